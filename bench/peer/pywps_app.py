"""The peer server for comparisons: PyWPS (Debian's python3-pywps) offering the same
processes as this server (hello, sleep, ultimate_question, wordcounter, bbox, inout,
show_error), served by Debian's gunicorn:

    PYWPS_DIR=/tmp/pywps gunicorn --chdir bench/peer -b 127.0.0.1:5090 -w 2 pywps_app:application
"""
import json
import os
import re
import time

from pywps import (BoundingBoxInput, BoundingBoxOutput, ComplexInput, ComplexOutput, Format, LiteralInput,
                   LiteralOutput, Process, Service, UOM)
from pywps.app.Common import Metadata  # noqa: F401  (kept for parity with birdhouse demos)
from pywps.validator.allowed_value import ALLOWEDVALUETYPE
from pywps.inout.literaltypes import AllowedValue

BASE = os.environ.get('PYWPS_DIR', '/tmp/pywps-peer')
PORT = os.environ.get('PYWPS_PORT', '5090')


def hello(request, response):
    response.outputs['output'].data = 'Hello ' + request.inputs['name'][0].data
    return response


def sleep(request, response):
    delay = request.inputs['delay'][0].data
    for step in range(1, 6):
        time.sleep(delay / 5)
        response.update_status('slept %.1f of %s seconds' % (delay * step / 5, delay), step * 20 - 1)
    response.outputs['sleep_output'].data = 'done sleeping'
    return response


def ultimate_question(request, response):
    response.outputs['answer'].data = '42'
    return response


def wordcounter(request, response):
    words = re.findall(r'\w+', request.inputs['text'][0].data.lower())
    counts = {}
    for w in words:
        counts[w] = counts.get(w, 0) + 1
    response.outputs['output'].data = json.dumps({'total': len(words), 'counts': counts})
    return response


def bbox(request, response):
    response.outputs['bboxout'].data = request.inputs['bboxin'][0].data
    return response


def inout(request, response):
    for name in ('int', 'bool', 'float', 'string'):
        response.outputs[name + '_out'].data = request.inputs[name + '_in'][0].data
    response.outputs['tags_out'].data = ','.join(i.data for i in request.inputs.get('tags', []))
    return response


def show_error(request, response):
    raise Exception('This process failed intentionally.')


PROCESSES = [
    Process(hello, 'hello', 'Say Hello', inputs=[LiteralInput('name', 'Your name', data_type='string')],
            outputs=[LiteralOutput('output', 'Greeting', data_type='string')], store_supported=True, status_supported=True),
    Process(sleep, 'sleep', 'Sleep',
            inputs=[LiteralInput('delay', 'Delay', data_type='float', default=10, min_occurs=0,
                                 allowed_values=[AllowedValue(allowed_type=ALLOWEDVALUETYPE.RANGE, minval=0, maxval=60)])],
            outputs=[LiteralOutput('sleep_output', 'Sleep output', data_type='string')], store_supported=True, status_supported=True),
    Process(ultimate_question, 'ultimate_question', 'Answer to the Ultimate Question', inputs=[],
            outputs=[LiteralOutput('answer', 'Answer', data_type='string')], store_supported=True, status_supported=True),
    Process(wordcounter, 'wordcounter', 'Word counter', inputs=[ComplexInput('text', 'Text', supported_formats=[Format('text/plain')])],
            outputs=[ComplexOutput('output', 'Word counts', supported_formats=[Format('application/json')])],
            store_supported=True, status_supported=True),
    Process(bbox, 'bbox', 'Bounding box echo', inputs=[BoundingBoxInput('bboxin', 'Bounding box', crss=['EPSG:4326', 'EPSG:3857'])],
            outputs=[BoundingBoxOutput('bboxout', 'Bounding box', crss=['EPSG:4326', 'EPSG:3857'])], store_supported=True, status_supported=True),
    Process(inout, 'inout', 'In and out',
            inputs=[LiteralInput('int_in', 'Integer', data_type='integer', allowed_values=[AllowedValue(allowed_type=ALLOWEDVALUETYPE.RANGE, minval=1, maxval=10)]),
                    LiteralInput('bool_in', 'Boolean', data_type='boolean'),
                    LiteralInput('float_in', 'Length', data_type='float', uoms=[UOM('metre'), UOM('feet')]),
                    LiteralInput('string_in', 'Choice', data_type='string', allowed_values=['rock', 'paper', 'scissors']),
                    LiteralInput('tags', 'Tags', data_type='string', min_occurs=0, max_occurs=3)],
            outputs=[LiteralOutput('int_out', 'Integer', data_type='integer'), LiteralOutput('bool_out', 'Boolean', data_type='boolean'),
                     LiteralOutput('float_out', 'Length', data_type='float'), LiteralOutput('string_out', 'Choice', data_type='string'),
                     LiteralOutput('tags_out', 'Tags', data_type='string')],
            store_supported=True, status_supported=True),
    Process(show_error, 'show_error', 'Show a WPS error', inputs=[], outputs=[LiteralOutput('output', 'Never produced', data_type='string')],
            store_supported=True, status_supported=True),
]

os.makedirs(os.path.join(BASE, 'outputs'), exist_ok=True)
os.makedirs(os.path.join(BASE, 'workdir'), exist_ok=True)
CONFIG = os.path.join(BASE, 'pywps.cfg')
with open(CONFIG, 'w') as f:
    f.write(f"""[server]
url = http://127.0.0.1:{PORT}/wps
outputurl = http://127.0.0.1:{PORT}/outputs/
outputpath = {BASE}/outputs
workdir = {BASE}/workdir
parallelprocesses = 4
maxsingleinputsize = 100mb

[logging]
level = WARNING
database = sqlite:///{BASE}/pywps-logs.sqlite
""")

service = Service(PROCESSES, [CONFIG])


def application(environ, start_response):
    """The WPS at /wps, its stored outputs and status documents at /outputs/."""
    path = environ.get('PATH_INFO', '')
    if path.startswith('/outputs/'):
        name = os.path.basename(path)
        file = os.path.join(BASE, 'outputs', name)
        if not os.path.isfile(file):
            start_response('404 Not Found', [('Content-Type', 'text/plain')])
            return [b'not found']
        with open(file, 'rb') as fh:
            body = fh.read()
        start_response('200 OK', [('Content-Type', 'text/xml' if name.endswith('.xml') else 'application/octet-stream'),
                                  ('Content-Length', str(len(body)))])
        return [body]
    return service(environ, start_response)
