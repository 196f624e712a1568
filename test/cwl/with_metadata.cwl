cwlVersion: v1.2
class: CommandLineTool
label: Data with its metadata
doc: Prints a data file and the metadata file beside it (a secondaryFiles input).
baseCommand: cat
inputs:
  data:
    type: File
    format: http://edamontology.org/format_2330
    secondaryFiles: [.meta]
    inputBinding: {position: 1}
arguments:
  - position: 2
    valueFrom: $(inputs.data.secondaryFiles[0].path)
outputs:
  both:
    type: stdout
    format: http://edamontology.org/format_2330
stdout: both.txt
