# shellcheck shell=bash
# tests/bench/lib.sh — how a figure is written down, for inside.sh (in the
# sandbox) and images.sh (on the host): one JSON line per figure appended
# to $SAMPLES; report.py makes the table. Sourced, not run.

# emit SEC ID LABEL UNIT GOAL VS NOTE VALUE...: one measured figure.
# VS: JSON list of [ID, name] pairs this figure is paired with ("" for none).
emit() {
	local sec=$1 id=$2 label=$3 unit=$4 goal=$5 vs=${6:-[]} note=$7
	shift 7
	if [ $# = 0 ]; then
		pending "$sec" "$id" "$label" "failed: no sample (see the log)" "$goal"
		return
	fi
	jq -cn --arg sec "$sec" --arg id "$id" --arg lab "$label" --arg unit "$unit" \
		--arg goal "$goal" --argjson vs "${vs:-[]}" --arg note "$note" \
		'{sec: $sec, id: $id, "label": $lab, unit: $unit, goal: $goal, vs: $vs, note: $note,
		  values: ($ARGS.positional | map(tonumber))}' --args "$@" >>"$SAMPLES"
}
# emit_median SEC ID LABEL UNIT GOAL RUNS RATIO-TEXT NOTE MEDIAN: a median
# reported by another tool (tests/fw/bench.c prints medians only).
emit_median() {
	jq -cn --arg sec "$1" --arg id "$2" --arg lab "$3" --arg unit "$4" --arg goal "$5" \
		--argjson runs "$6" --arg rt "$7" --arg note "$8" --argjson m "$9" \
		'{sec: $sec, id: $id, "label": $lab, unit: $unit, goal: $goal, runs: $runs,
		  ratio_text: $rt, note: $note, median: $m}' >>"$SAMPLES"
}
# pending SEC ID LABEL STATUS [GOAL]: a figure that cannot be measured (yet).
pending() {
	jq -cn --arg sec "$1" --arg id "$2" --arg lab "$3" --arg st "$4" --arg goal "${5:-}" \
		'{sec: $sec, id: $id, "label": $lab, status: $st, goal: $goal}' >>"$SAMPLES"
}
