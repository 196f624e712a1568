cwlVersion: v1.2
class: CommandLineTool
label: Sleep for
doc: Waits the given number of seconds (a job that outlives a short wall-clock limit).
baseCommand: [sleep]
inputs:
  seconds:
    type: int
    label: Seconds
    inputBinding: {position: 1}
outputs:
  said:
    type: stdout
    format: http://edamontology.org/format_2330
stdout: said.txt
