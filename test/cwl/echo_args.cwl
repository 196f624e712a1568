cwlVersion: v1.2
class: CommandLineTool
label: Arguments
doc: Prints each argument it is given on a line of its own.
baseCommand: [printf, '%s\n']
inputs:
  message:
    type: string
    label: Message
    inputBinding: {position: 1}
  mode:
    type:
      type: enum
      symbols: [fast, slow]
    default: fast
    inputBinding: {position: 2, prefix: --mode}
  count:
    type: int?
    inputBinding: {position: 3, prefix: --count}
  verbose:
    type: boolean?
    inputBinding: {position: 4, prefix: --verbose}
  extras:
    type: string[]?
    inputBinding: {position: 5}
outputs:
  printed:
    type: stdout
    format: http://edamontology.org/format_2330
stdout: printed.txt
