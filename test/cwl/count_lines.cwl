cwlVersion: v1.0
class: CommandLineTool
label: Count lines
doc: wc -l of a text file (a CWL v1.0 document).
baseCommand: [wc, -l]
stdin: $(inputs.text.path)
inputs:
  text:
    type: File
    format: http://edamontology.org/format_2330
outputs:
  lines:
    type: stdout
    format: http://edamontology.org/format_2330
stdout: lines.txt
