//! The versions of the `weft:plugin` contract the host serves.
//!
//! The host's bindings are generated from `wit/weft.wit` (0.3.0). It also serves components
//! built against 0.2.0 (`wit/v0.2.0/weft.wit`), which has the same types, functions and
//! imports except that its `edit` has no `set-event-name`. A component's version is read from
//! the interface it exports; the host's imports are linked under every version served; a
//! 0.2.0 `process` answer is lifted through the 0.2.0 shape of `edit` (see
//! `super::answers`).

use wasmtime::component::{Component, ComponentExportIndex, HasSelf, Linker};

use super::state::{PluginState, World};
use crate::contract::bindings::policy::TraceSampler;
use crate::contract::bindings::weft::plugin::host::Host;
use crate::contract::bindings::{Level, Processor};

/// A version of the contract.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ContractVersion {
    /// `weft:plugin@0.2.0`: no `set-event-name` edit.
    V0_2,
    /// `weft:plugin@0.3.0`, the one `wit/weft.wit` describes.
    V0_3,
}

impl ContractVersion {
    /// Every version served, newest first.
    pub const SERVED: [ContractVersion; 2] = [ContractVersion::V0_3, ContractVersion::V0_2];

    /// The version as the WIT package writes it.
    pub fn as_str(self) -> &'static str {
        match self {
            ContractVersion::V0_2 => "0.2.0",
            ContractVersion::V0_3 => "0.3.0",
        }
    }

    /// The name of an interface of this version (`weft:plugin/host@0.2.0`).
    fn interface(self, name: &str) -> String {
        format!("weft:plugin/{name}@{}", self.as_str())
    }
}

impl std::fmt::Display for ContractVersion {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The exports a plugin of one world is called through.
pub struct Exports {
    /// The contract version the component was built against.
    pub version: ContractVersion,
    /// `init`.
    pub init: ComponentExportIndex,
    /// `process` (processor) or `decide` (policy).
    pub answer: ComponentExportIndex,
}

/// Finds the world's exported interface in `component`, in the newest version it exports.
pub fn find_exports(component: &Component, world: World) -> Result<Exports, String> {
    let (interface, answer) = match world {
        World::Processor => ("span-processor", "process"),
        World::TraceSampler => ("trace-policy", "decide"),
    };
    for version in ContractVersion::SERVED {
        let name = version.interface(interface);
        let Some(exported) = component.get_export_index(None, &name) else {
            continue;
        };
        let function = |function: &str| {
            component
                .get_export_index(Some(&exported), function)
                .ok_or_else(|| format!("no export {name}#{function}"))
        };
        return Ok(Exports {
            version,
            init: function("init")?,
            answer: function(answer)?,
        });
    }
    let served: Vec<&str> = ContractVersion::SERVED.iter().map(|v| v.as_str()).collect();
    let prefix = format!("weft:plugin/{interface}@");
    let component_type = component.component_type();
    let built_against = component_type
        .exports(component.engine())
        .find_map(|(name, _)| name.strip_prefix(&prefix).map(str::to_owned));
    match built_against {
        Some(version) => Err(format!(
            "it is built against weft:plugin@{version}, a contract version this Weft does not \
             serve (it serves {}); rebuild it against one of those",
            served.join(" and ")
        )),
        None => Err(format!(
            "it exports none of {}",
            ContractVersion::SERVED
                .iter()
                .map(|v| v.interface(interface))
                .collect::<Vec<_>>()
                .join(", ")
        )),
    }
}

/// Links the host's imports for a plugin of `world`, under every version served.
pub fn link_host(linker: &mut Linker<PluginState>, world: World) -> wasmtime::Result<()> {
    match world {
        World::Processor => Processor::add_to_linker::<_, HasSelf<_>>(linker, |state| state)?,
        World::TraceSampler => {
            TraceSampler::add_to_linker::<_, HasSelf<_>>(linker, |state| state)?;
        }
    }
    for version in ContractVersion::SERVED {
        if version == ContractVersion::V0_3 {
            continue; // Linked by the generated bindings above.
        }
        // Interfaces of types only are still imported, as empty instances.
        linker.instance(&version.interface("common"))?;
        linker.instance(&version.interface("traces"))?;
        let mut host = linker.instance(&version.interface("host"))?;
        host.func_wrap("log", |mut store, (level, message): (Level, String)| {
            Host::log(store.data_mut(), level, message)
        })?;
        host.func_wrap("counter-add", |mut store, (name, delta): (String, u64)| {
            Host::counter_add(store.data_mut(), name, delta)
        })?;
    }
    Ok(())
}
