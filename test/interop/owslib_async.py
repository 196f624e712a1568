"""Runs `sleep` asynchronously with OWSLib and follows it the way OWSLib's
monitorExecution() does, recording every percentCompleted it sees."""
import json
import sys

from owslib.wps import ASYNC, WebProcessingService


def run(url, delay):
    wps = WebProcessingService(url, version='1.0.0', skip_caps=True)
    # Without an output list OWSLib sends no ResponseForm at all, which means synchronous;
    # output=[] gives the empty ResponseDocument with storeExecuteResponse and status.
    execution = wps.execute('sleep', [('delay', delay)], output=[], mode=ASYNC)
    seen = [{'status': execution.status, 'percent': execution.percentCompleted}]
    location = execution.statusLocation
    while not execution.isComplete():
        execution.checkStatus(sleepSecs=0.1)
        seen.append({'status': execution.status, 'percent': execution.percentCompleted, 'message': execution.statusMessage})
    return {
        'statusLocation': location,
        'status': execution.status,
        'succeeded': execution.isSucceded(),
        'seen': seen,
        'outputs': {o.identifier: o.data for o in execution.processOutputs},
    }


if __name__ == '__main__':
    print(json.dumps(run(sys.argv[1], sys.argv[2])))
