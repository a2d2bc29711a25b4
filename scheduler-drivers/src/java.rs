//! `java`: a JVM run with the `exec` driver's isolation.
//!
//! Task configuration: `jar_path` (run with `-jar`) or `class` (with
//! `class_path`), `jvm_options`, `args`. Relative paths are relative to
//! the task directory, which is the task's root (`local/app.jar`).

use std::collections::BTreeMap;
use std::path::PathBuf;

use scheduler_core::driver::{DriverError, DriverFingerprint, DriverFuture, DriverHealth};

use crate::exec::{IsolatedDriver, IsolatedKind};

/// The driver's name in job files.
pub const NAME: &str = "java";

/// `java`: the command line from `jar_path` or `class`.
#[derive(Debug, Default, Clone, Copy)]
pub struct Java;

/// The `java` driver.
pub type JavaDriver = IsolatedDriver<Java>;

/// The `java` binary on this node: `$JAVA_HOME/bin/java`, else the first
/// on `PATH`.
fn java_binary() -> Option<PathBuf> {
    if let Some(home) = std::env::var_os("JAVA_HOME") {
        let java = PathBuf::from(home).join("bin/java");
        if java.is_file() {
            return Some(java);
        }
    }
    std::env::split_paths(&std::env::var_os("PATH")?)
        .map(|dir| dir.join("java"))
        .find(|java| java.is_file())
}

fn strings(
    config: &BTreeMap<String, serde_json::Value>,
    key: &str,
) -> Result<Vec<String>, DriverError> {
    match config.get(key) {
        None | Some(serde_json::Value::Null) => Ok(Vec::new()),
        Some(serde_json::Value::Array(items)) => items
            .iter()
            .enumerate()
            .map(|(i, item)| match item {
                serde_json::Value::String(s) => Ok(s.clone()),
                other => Err(DriverError::InvalidConfig(format!(
                    "config.{key}[{i}]: expected a string, found {other}"
                ))),
            })
            .collect(),
        Some(other) => Err(DriverError::InvalidConfig(format!(
            "config.{key}: expected a list of strings, found {other}"
        ))),
    }
}

fn string(
    config: &BTreeMap<String, serde_json::Value>,
    key: &str,
) -> Result<Option<String>, DriverError> {
    match config.get(key) {
        None | Some(serde_json::Value::Null) => Ok(None),
        Some(serde_json::Value::String(s)) if !s.trim().is_empty() => Ok(Some(s.clone())),
        Some(other) => Err(DriverError::InvalidConfig(format!(
            "config.{key}: expected a non-empty string, found {other}"
        ))),
    }
}

impl IsolatedKind for Java {
    const NAME: &'static str = NAME;

    fn command_line(
        &self,
        config: &BTreeMap<String, serde_json::Value>,
    ) -> Result<(String, Vec<String>), DriverError> {
        const KNOWN: &[&str] = &["jar_path", "class", "class_path", "jvm_options", "args"];
        if let Some(unknown) = config.keys().find(|k| !KNOWN.contains(&k.as_str())) {
            return Err(DriverError::InvalidConfig(format!(
                "config.{unknown}: not an option of the java driver (it takes {})",
                KNOWN.join(", ")
            )));
        }
        let jar = string(config, "jar_path")?;
        let class = string(config, "class")?;
        let class_path = string(config, "class_path")?;
        let mut line = strings(config, "jvm_options")?;
        if let Some(class_path) = class_path {
            line.extend(["-cp".to_owned(), class_path]);
        }
        match (jar, class) {
            (Some(jar), None) => line.extend(["-jar".to_owned(), jar]),
            (None, Some(class)) => line.push(class),
            (Some(_), Some(_)) => {
                return Err(DriverError::InvalidConfig(
                    "config.jar_path and config.class: give one, not both".to_owned(),
                ));
            }
            (None, None) => {
                return Err(DriverError::InvalidConfig(
                    "config.jar_path or config.class: one is required".to_owned(),
                ));
            }
        }
        line.extend(strings(config, "args")?);
        let java = java_binary().ok_or_else(|| {
            DriverError::StartFailed("no java on this node (JAVA_HOME, PATH)".to_owned())
        })?;
        Ok((java.display().to_string(), line))
    }

    fn fingerprint(&self) -> DriverFuture<'_, DriverFingerprint> {
        Box::pin(async move {
            let attribute = |key: &str| format!("driver.{NAME}.{key}");
            let Some(java) = java_binary() else {
                return Ok(DriverFingerprint {
                    health: DriverHealth::Undetected,
                    description: "no java on this node".to_owned(),
                    attributes: BTreeMap::new(),
                });
            };
            let output = tokio::process::Command::new(&java)
                .arg("-version")
                .output()
                .await
                .map_err(|e| DriverError::Io(format!("{} -version: {e}", java.display())))?;
            // `java -version` writes to stderr: the version line, the
            // runtime, the VM.
            let text = String::from_utf8_lossy(&output.stderr);
            let mut lines = text.lines();
            let version = lines
                .next()
                .and_then(|line| line.split('"').nth(1))
                .unwrap_or_default()
                .to_owned();
            let mut attributes = BTreeMap::from([
                (format!("driver.{NAME}"), "1".to_owned()),
                (attribute("version"), version),
            ]);
            if let Some(runtime) = lines.next() {
                attributes.insert(attribute("runtime"), runtime.trim().to_owned());
            }
            if let Some(vm) = lines.next() {
                attributes.insert(attribute("vm"), vm.trim().to_owned());
            }
            Ok(DriverFingerprint {
                health: if output.status.success() {
                    DriverHealth::Healthy
                } else {
                    DriverHealth::Unhealthy
                },
                description: text.lines().next().unwrap_or_default().to_owned(),
                attributes,
            })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(json: serde_json::Value) -> BTreeMap<String, serde_json::Value> {
        serde_json::from_value(json).expect("map")
    }

    #[test]
    fn the_command_line_follows_the_config_and_errors_name_the_field() {
        let line = |json| Java.command_line(&config(json)).map(|(_, args)| args);
        if java_binary().is_some() {
            assert_eq!(
                line(serde_json::json!({
                    "jar_path": "local/app.jar",
                    "jvm_options": ["-Xmx64m"],
                    "args": ["serve"]
                }))
                .unwrap(),
                ["-Xmx64m", "-jar", "local/app.jar", "serve"]
            );
            assert_eq!(
                line(serde_json::json!({"class": "Main", "class_path": "local"})).unwrap(),
                ["-cp", "local", "Main"]
            );
        }
        let err = |json| line(json).unwrap_err().to_string();
        assert!(err(serde_json::json!({})).contains("config.jar_path or config.class"));
        assert!(err(serde_json::json!({"jar_path": "a", "class": "B"})).contains("not both"));
        assert!(
            err(serde_json::json!({"class": "B", "jvm_options": "-Xmx1g"}))
                .contains("config.jvm_options")
        );
        assert!(err(serde_json::json!({"class": "B", "command": "x"})).contains("config.command"));
    }
}
