cwlVersion: v1.2
class: CommandLineTool
label: Raster information
doc: GDAL's gdalinfo, as JSON.
baseCommand: [gdalinfo, -json]
inputs:
  raster:
    type: File
    format: http://edamontology.org/format_3591
    inputBinding: {position: 1}
outputs:
  info:
    type: stdout
    format: http://edamontology.org/format_3464
stdout: info.json
