"""What birdy does with --token: OWSLib's WebProcessingService with the header
Authorization: Bearer <token> (birdy passes headers= through to OWSLib). Reads the
capabilities, runs hello synchronously and sleep asynchronously, and prints JSON."""
import json
import sys

from owslib.wps import ASYNC, WebProcessingService


def run(url, token):
    wps = WebProcessingService(url, version='1.0.0', headers={'Authorization': f'Bearer {token}'})
    out = {'processes': [p.identifier for p in wps.processes]}
    hello = wps.execute('hello', [('name', 'token')])
    out['hello'] = {'status': hello.status, 'outputs': {o.identifier: o.data for o in hello.processOutputs}}
    job = wps.execute('sleep', [('delay', '0.5')], output=[], mode=ASYNC)
    while not job.isComplete():
        job.checkStatus(sleepSecs=0.1)
    out['sleep'] = {'statusLocation': job.statusLocation, 'status': job.status, 'outputs': {o.identifier: o.data for o in job.processOutputs}}
    return out


if __name__ == '__main__':
    print(json.dumps(run(sys.argv[1], sys.argv[2])))
