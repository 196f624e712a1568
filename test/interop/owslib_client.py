"""Drives a WPS 1.0.0 server with OWSLib, the most used WPS client, and prints what
OWSLib understood as JSON. Run with Debian's python3 (python3-owslib)."""
import json
import sys

from owslib.wps import SYNC, BoundingBoxDataInput, ComplexDataInput, WebProcessingService


def plain(value):
    return value if isinstance(value, (str, int, float, bool, type(None))) else getattr(value, 'mimeType', repr(value))


def io_summary(items):
    return [
        {
            'identifier': i.identifier,
            'dataType': i.dataType,
            'minOccurs': getattr(i, 'minOccurs', None),
            'maxOccurs': getattr(i, 'maxOccurs', None),
            'defaultValue': plain(getattr(i, 'defaultValue', None)),
            'allowedValues': [str(v) for v in (getattr(i, 'allowedValues', None) or [])],
            'supportedValues': [getattr(v, 'mimeType', None) for v in (getattr(i, 'supportedValues', None) or [])],
        }
        for i in items
    ]


def outputs(execution):
    return {
        o.identifier: [d if isinstance(d, str) else d.decode() if isinstance(d, bytes) else repr(d) for d in o.data]
        for o in execution.processOutputs
    }


def run(url):
    out = {}
    wps = WebProcessingService(url, version='1.0.0')
    out['title'] = wps.identification.title
    out['processes'] = [p.identifier for p in wps.processes]
    out['describe'] = {}
    for p in wps.processes:
        d = wps.describeprocess(p.identifier)
        out['describe'][p.identifier] = {
            'title': d.title,
            'storeSupported': d.storeSupported,
            'statusSupported': d.statusSupported,
            'inputs': io_summary(d.dataInputs),
            'outputs': io_summary(d.processOutputs),
        }

    ex = wps.execute('hello', [('name', 'OWSLib')], mode=SYNC)
    out['hello'] = {'status': ex.status, 'outputs': outputs(ex)}

    ex = wps.execute('wordcounter', [('text', ComplexDataInput('one two two', mimeType='text/plain'))], mode=SYNC)
    out['wordcounter'] = {'status': ex.status, 'outputs': outputs(ex)}

    ex = wps.execute(
        'inout',
        [('int_in', '5'), ('bool_in', 'true'), ('float_in', '2.5'), ('string_in', 'scissors'), ('tags', 'x'), ('tags', 'y')],
        output=[('int_out', False), ('bool_out', False), ('float_out', False), ('string_out', False), ('tags_out', False)],
        mode=SYNC,
    )
    out['inout'] = {'status': ex.status, 'outputs': outputs(ex)}

    ex = wps.execute('bbox', [('bboxin', BoundingBoxDataInput([1, 2, 3, 4], crs='EPSG:4326', dimensions=2))], mode=SYNC)
    out['bbox'] = {'status': ex.status, 'outputs': {o.identifier: [[d.minx, d.miny, d.maxx, d.maxy, d.crs.getcode() if d.crs else None] for d in o.data] for o in ex.processOutputs}}

    ex = wps.execute('show_error', [], mode=SYNC)
    out['show_error'] = {'status': ex.status, 'errors': [{'code': e.code, 'text': e.text} for e in ex.errors]}

    try:
        wps.execute('inout', [('int_in', '99'), ('bool_in', 'true'), ('float_in', '1'), ('string_in', 'rock')], mode=SYNC)
        out['invalid'] = 'no exception'
    except Exception as e:  # OWSLib raises on HTTP 400 with the body as message
        out['invalid'] = {'type': type(e).__name__, 'message': str(e)}
    return out


if __name__ == '__main__':
    print(json.dumps(run(sys.argv[1])))
