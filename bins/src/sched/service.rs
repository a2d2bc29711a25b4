//! `sched service list|info`: the services allocations registered in the
//! built-in catalog.

use clap::{Args, Subcommand};
use scheduler_core::model::api::{
    ServiceRegistration, ServiceRegistrationListStub, ServiceRegistrationStub,
};

use crate::api_client::{ApiArgs, ApiClient, Failure, Outcome, path_segment, run_command};
use crate::output::{Columns, format_kv, say, short_id};

/// What both commands were doing, for their errors (Nomad's words).
const LISTING: &str = "listing service registrations";

/// Commands on registered services.
#[derive(Debug, Subcommand)]
pub enum ServiceCommand {
    /// List the services by name, with their tags.
    List(ListArgs),
    /// Show the instances of one service: where each runs.
    Info(InfoArgs),
}

/// Flags of `service list`.
#[derive(Debug, Args)]
pub struct ListArgs {
    #[command(flatten)]
    api: ApiArgs,
    /// Print the API's JSON.
    #[arg(long)]
    json: bool,
}

/// Flags of `service info`.
#[derive(Debug, Args)]
pub struct InfoArgs {
    #[command(flatten)]
    api: ApiArgs,
    /// Print the API's JSON.
    #[arg(long)]
    json: bool,
    /// Every field of every instance, with full ids.
    #[arg(long)]
    verbose: bool,
    /// The service's name.
    #[arg(value_name = "NAME")]
    name: String,
}

/// Runs a service command.
pub fn run(command: ServiceCommand) -> std::process::ExitCode {
    run_command(async move {
        match command {
            ServiceCommand::List(args) => list(args).await,
            ServiceCommand::Info(args) => info(args).await,
        }
    })
}

fn tags(tags: &[String]) -> String {
    format!("[{}]", tags.join(","))
}

/// `Service Name  Tags` (with a Namespace column when several namespaces
/// appear).
pub fn format_service_list(namespaces: &[ServiceRegistrationListStub]) -> String {
    let services: Vec<(&str, &ServiceRegistrationStub)> = namespaces
        .iter()
        .flat_map(|namespace| {
            let name = namespace.namespace.as_str();
            namespace
                .services
                .iter()
                .map(move |service| (name, service))
        })
        .collect();
    Columns::<(&str, &ServiceRegistrationStub)>::new()
        .column("Service Name", |(_, service)| service.service_name.clone())
        .column_if(namespaces.len() > 1, "Namespace", |(namespace, _)| {
            (*namespace).to_owned()
        })
        .column("Tags", |(_, service)| tags(&service.tags))
        .format(services)
}

/// The instances of a service: `Job ID  Address  Tags  Node ID  Alloc ID`,
/// or one `key = value` block per instance when verbose.
pub fn format_service_info(instances: &[ServiceRegistration], verbose: bool) -> String {
    if verbose {
        let blocks: Vec<String> = instances
            .iter()
            .map(|instance| {
                format_kv(&[
                    ("ID", instance.id.clone()),
                    ("Service Name", instance.service_name.clone()),
                    ("Namespace", instance.namespace.clone()),
                    ("Job ID", instance.job_id.clone()),
                    ("Alloc ID", instance.alloc_id.clone()),
                    ("Node ID", instance.node_id.clone()),
                    ("Datacenter", instance.datacenter.clone()),
                    ("Address", format!("{}:{}", instance.address, instance.port)),
                    ("Tags", tags(&instance.tags)),
                ])
            })
            .collect();
        return blocks.join("\n\n");
    }
    Columns::<ServiceRegistration>::new()
        .column("Job ID", |instance| instance.job_id.clone())
        .column("Address", |instance| {
            format!("{}:{}", instance.address, instance.port)
        })
        .column("Tags", |instance| tags(&instance.tags))
        .column("Node ID", |instance| {
            short_id(&instance.node_id, false).to_owned()
        })
        .column("Alloc ID", |instance| {
            short_id(&instance.alloc_id, false).to_owned()
        })
        .format(instances)
}

async fn list(args: ListArgs) -> Outcome {
    let client = ApiClient::new(&args.api)?;
    let Some(namespaces) = client
        .get_or_print_json::<Vec<ServiceRegistrationListStub>>(
            "/v1/services",
            &[],
            args.json,
            LISTING,
        )
        .await?
    else {
        return Ok(0);
    };
    if namespaces
        .iter()
        .all(|namespace| namespace.services.is_empty())
    {
        say!("No service registrations found");
    } else {
        say!("{}", format_service_list(&namespaces));
    }
    Ok(0)
}

async fn info(args: InfoArgs) -> Outcome {
    let client = ApiClient::new(&args.api)?;
    let path = format!("/v1/service/{}", path_segment(&args.name));
    let Some(instances) = client
        .get_or_print_json::<Vec<ServiceRegistration>>(&path, &[], args.json, LISTING)
        .await?
    else {
        return Ok(0);
    };
    if instances.is_empty() {
        return Err(Failure::new("No service registrations found"));
    }
    say!("{}", format_service_info(&instances, args.verbose));
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn services_are_listed_with_their_tags() {
        let namespaces = [ServiceRegistrationListStub {
            namespace: "default".to_owned(),
            services: vec![ServiceRegistrationStub {
                service_name: "redis".to_owned(),
                tags: vec!["cache".to_owned(), "db".to_owned()],
            }],
        }];
        assert_eq!(
            format_service_list(&namespaces),
            "Service Name  Tags\nredis         [cache,db]"
        );
    }

    #[test]
    fn instances_show_where_they_run() {
        let instance = ServiceRegistration {
            job_id: "example".to_owned(),
            address: "127.0.0.1".to_owned(),
            port: 25_512,
            node_id: "2be3a3f9-0000".to_owned(),
            alloc_id: "0a9b2cfb-0000".to_owned(),
            ..ServiceRegistration::default()
        };
        assert_eq!(
            format_service_info(std::slice::from_ref(&instance), false),
            "Job ID   Address          Tags  Node ID   Alloc ID\n\
             example  127.0.0.1:25512  []    2be3a3f9  0a9b2cfb"
        );
    }
}
