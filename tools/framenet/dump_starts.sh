#!/bin/bash
# dump judge starts for each set, one after another
export OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1
for s in dev:/work/dataset/dev jx:/tmp/jx/dev jw:/tmp/jw/dev jy:/tmp/jy/dev jq:/tmp/jq/dev; do
  n=${s%%:*}; d=${s#*:}
  echo "== $n $(date +%T)"
  /tmp/mp/release/continuo eval-transcription $d --fit-judge --set fit_judging=1 --dump-judge /tmp/framenet/starts_$n.tsv > /tmp/framenet/dump_$n.log 2>&1
  echo "rc=$? $(date +%T)"
done
