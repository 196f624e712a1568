cwlVersion: v1.2
class: CommandLineTool
label: Field mean
doc: CDO's fldmean of a NetCDF file, without a history attribute (the same bytes every run).
baseCommand: [cdo, --no_history, -s, -f, nc, fldmean]
inputs:
  data:
    type: File
    format: http://edamontology.org/format_3650
    inputBinding: {position: 1}
  output_name:
    type: string
    default: mean.nc
    inputBinding: {position: 2}
outputs:
  mean:
    type: File
    format: http://edamontology.org/format_3650
    outputBinding: {glob: $(inputs.output_name)}
