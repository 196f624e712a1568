cwlVersion: v1.2
class: CommandLineTool
label: In a container
doc: Lists the container's /bin (a busybox image imported locally), and prints a message.
requirements:
  DockerRequirement:
    dockerPull: localhost/wps-test-busybox:latest
baseCommand: [sh, -c, 'ls /bin; echo "$0"']
inputs:
  message:
    type: string
    inputBinding: {position: 1}
outputs:
  listing:
    type: stdout
    format: http://edamontology.org/format_2330
stdout: listing.txt
