#!/usr/bin/env bash
# Seeds the fuzz corpora from the job-spec fixture corpus beside the
# repository (../shared/jobspecs, or $SCHED_JOBSPECS): every job file for
# jobspec_hcl, and each job that parses as Nomad API JSON (printed by
# `sched job inspect`) for jobspec_json. Corpus directories are git-ignored.
set -euo pipefail
cd "$(dirname "$0")"
jobspecs="${SCHED_JOBSPECS:-$(cd ../.. && pwd)/shared/jobspecs}"
mkdir -p corpus/jobspec_hcl corpus/jobspec_json
(cd .. && cargo build --quiet --release -p bins --bin sched)
sched="${CARGO_TARGET_DIR:-../target}/release/sched"
find "$jobspecs" -type f \( -name '*.hcl' -o -name '*.nomad' \) | sort | while read -r file; do
  name=$(printf '%s' "$file" | sha1sum | cut -c1-16)
  cp "$file" "corpus/jobspec_hcl/$name"
  "$sched" job inspect "$file" > "corpus/jobspec_json/$name" 2>/dev/null || rm -f "corpus/jobspec_json/$name"
done
echo "seeded $(ls corpus/jobspec_hcl | wc -l) HCL and $(ls corpus/jobspec_json | wc -l) JSON inputs"
