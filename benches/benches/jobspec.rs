//! Job-spec benches: the fixture corpus end to end (parse, canonicalise,
//! validate; reported per file), and one large job (50 groups of 5 tasks)
//! from HCL and from Nomad API JSON.

use benches::{accepted_corpus, large_job_hcl};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use scheduler_core::jobspec::{ParseOptions, parse, parse_json};
use scheduler_core::model::JobWrapper;
use std::hint::black_box;

fn corpus(c: &mut Criterion) {
    let files = accepted_corpus();
    assert!(files.len() > 100, "only {} corpus files parse", files.len());
    let options: Vec<ParseOptions<'static>> = files
        .iter()
        .map(|f| ParseOptions::new(f.name.clone()))
        .collect();
    let mut group = c.benchmark_group("jobspec/corpus");
    // Throughput in files: criterion's time per element is the cost of one file.
    eprintln!("jobspec/corpus: {} accepted files", files.len());
    group.throughput(Throughput::Elements(files.len() as u64));
    group.bench_function("parse+canonicalize+validate", |b| {
        b.iter(|| {
            for (file, options) in files.iter().zip(&options) {
                black_box(parse(black_box(&file.source), options).is_ok());
            }
        });
    });
    group.finish();
}

fn large_job(c: &mut Criterion) {
    let hcl = large_job_hcl(50, 5);
    let options = ParseOptions::new("large.hcl");
    let job = parse(&hcl, &options).expect("the large job is valid").job;
    let json = serde_json::to_string(&JobWrapper { job }).expect("serialises");

    let mut group = c.benchmark_group("jobspec/large_50x5");
    group.throughput(Throughput::Bytes(hcl.len() as u64));
    group.bench_function("parse_hcl", |b| b.iter(|| parse(black_box(&hcl), &options)));
    group.throughput(Throughput::Bytes(json.len() as u64));
    group.bench_function("json_deserialize", |b| {
        b.iter(|| serde_json::from_str::<JobWrapper>(black_box(&json)).map(|w| w.job))
    });
    group.bench_function("parse_json", |b| {
        b.iter(|| parse_json(black_box(&json), "large.json"))
    });
    group.finish();
}

criterion_group!(benches, corpus, large_job);
criterion_main!(benches);
