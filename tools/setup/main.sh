#!/usr/bin/env bash
# The main job: installs what is missing, builds rowflow, builds the seed's
# deeper network (section 4.5: 2 -> 2 relu -> 2 relu -> 1) from its layer
# spec and runs it over a few rows, printing one prediction per row.
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
rowflow_install_deps
rowflow_build rowflow >/dev/null
rowflow="$ROWFLOW_BUILD_DIR/tools/rowflow"
examples="$ROWFLOW_ROOT/tools/examples"
"$rowflow" build "$examples/seed_4_5.pbtxt" -o "$ROWFLOW_BUILD_DIR/seed_4_5.pb"
echo "rows (tools/examples/seed_4_5_rows.csv):" >&2
cat "$examples/seed_4_5_rows.csv" >&2
echo "predictions:" >&2
"$rowflow" run "$ROWFLOW_BUILD_DIR/seed_4_5.pb" -i "$examples/seed_4_5_rows.csv" -o - "$@"
