//! Paths to a place in a job, used to say where a validation problem is.
//!
//! Validation runs on the model, whichever way the job arrived, so a problem
//! names its place as a [`FieldPath`] that renders two ways: as the HCL path a
//! job-file author reads (`job "web" > group "api" > task "srv" > resources`)
//! and as the JSON field path an API client reads
//! (`Job.TaskGroups[0].Tasks[0].Resources`). The HCL reader records the source
//! span of every block and attribute under the same HCL rendering, which is how
//! a model-level problem gets a file, line and column.

use std::fmt;

/// One step in a [`FieldPath`].
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Segment {
    /// A block with a label: `job "web"`, `group "api"`, `task "srv"`,
    /// `port "http"`, `device "nvidia/gpu"`. `index` is its position in the
    /// JSON list that holds it (none for the job itself or for map entries).
    Labeled {
        /// The HCL block type (`group`).
        hcl: &'static str,
        /// The JSON field holding it (`TaskGroups`).
        json: &'static str,
        /// The block's label (`"api"`).
        label: String,
        /// Position in the JSON list.
        index: Option<usize>,
    },
    /// An unlabeled block or an attribute: `resources`, `cpu`, `service[1]`.
    Field {
        /// The HCL name (`memory`).
        hcl: &'static str,
        /// The JSON name (`MemoryMB`).
        json: &'static str,
        /// Position among blocks of the same type, for repeatable blocks.
        index: Option<usize>,
    },
    /// A key in a free-form map (`meta`, `env`, driver `config`).
    Key(String),
}

/// A path from the job to one of its parts.
#[derive(Debug, Clone, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct FieldPath(pub Vec<Segment>);

impl FieldPath {
    /// The path of a job (`job "ID"`).
    pub fn job(id: &str) -> Self {
        FieldPath(vec![Segment::Labeled {
            hcl: "job",
            json: "Job",
            label: id.to_owned(),
            index: None,
        }])
    }

    /// This path extended by a labeled block.
    pub fn labeled(
        &self,
        hcl: &'static str,
        json: &'static str,
        label: &str,
        index: Option<usize>,
    ) -> Self {
        self.with(Segment::Labeled {
            hcl,
            json,
            label: label.to_owned(),
            index,
        })
    }

    /// This path extended by a field or unlabeled block.
    pub fn field(&self, hcl: &'static str, json: &'static str) -> Self {
        self.with(Segment::Field {
            hcl,
            json,
            index: None,
        })
    }

    /// This path extended by one of several unlabeled blocks of a type.
    pub fn indexed(&self, hcl: &'static str, json: &'static str, index: usize) -> Self {
        self.with(Segment::Field {
            hcl,
            json,
            index: Some(index),
        })
    }

    /// This path extended by a map key.
    pub fn key(&self, key: &str) -> Self {
        self.with(Segment::Key(key.to_owned()))
    }

    fn with(&self, segment: Segment) -> Self {
        let mut segments = self.0.clone();
        segments.push(segment);
        FieldPath(segments)
    }

    /// The path as an HCL author reads it: `job "web" > group "api" > resources`.
    pub fn to_hcl(&self) -> String {
        let parts: Vec<String> = self
            .0
            .iter()
            .map(|segment| match segment {
                Segment::Labeled { hcl, label, .. } => format!("{hcl} {label:?}"),
                Segment::Field {
                    hcl,
                    index: Some(i),
                    ..
                } => format!("{hcl}[{i}]"),
                Segment::Field {
                    hcl, index: None, ..
                } => (*hcl).to_owned(),
                Segment::Key(key) => key.clone(),
            })
            .collect();
        parts.join(" > ")
    }

    /// The path as an API client reads it: `Job.TaskGroups[0].Resources.MemoryMB`.
    pub fn to_json(&self) -> String {
        let mut out = String::new();
        for segment in &self.0 {
            match segment {
                Segment::Labeled { json, index, .. } | Segment::Field { json, index, .. } => {
                    if !out.is_empty() {
                        out.push('.');
                    }
                    out.push_str(json);
                    if let Some(i) = index {
                        out.push_str(&format!("[{i}]"));
                    }
                }
                Segment::Key(key) => out.push_str(&format!("[{key:?}]")),
            }
        }
        out
    }

    /// The HCL renderings of this path and each of its ancestors, longest
    /// first: used to find the nearest place with a known source span.
    pub fn hcl_prefixes(&self) -> Vec<String> {
        (1..=self.0.len())
            .rev()
            .map(|n| FieldPath(self.0[..n].to_vec()).to_hcl())
            .collect()
    }
}

impl fmt::Display for FieldPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hcl())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_hcl_and_json_paths() {
        let path = FieldPath::job("web")
            .labeled("group", "TaskGroups", "api", Some(0))
            .labeled("task", "Tasks", "srv", Some(1))
            .field("resources", "Resources")
            .field("memory", "MemoryMB");
        assert_eq!(
            path.to_hcl(),
            "job \"web\" > group \"api\" > task \"srv\" > resources > memory"
        );
        assert_eq!(
            path.to_json(),
            "Job.TaskGroups[0].Tasks[1].Resources.MemoryMB"
        );
        let service = FieldPath::job("web")
            .indexed("service", "Services", 2)
            .key("x");
        assert_eq!(service.to_hcl(), "job \"web\" > service[2] > x");
        assert_eq!(service.to_json(), "Job.Services[2][\"x\"]");
        assert_eq!(path.hcl_prefixes().len(), 5);
    }
}
