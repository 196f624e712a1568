import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runPython } from './helpers/python.js';
import { startTestServer, type TestServer } from './helpers/server.js';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
let seen: any;
let s: TestServer;
beforeAll(async () => {
  s = await startTestServer();
  // OWSLib prints some exceptions to stdout itself; the script's JSON is the last line.
  seen = JSON.parse((await runPython('test/interop/owslib_client.py', [s.wps])).trim().split('\n').pop()!);
}, 120_000);
afterAll(() => s.close());

describe('OWSLib (the reference client) against the running server', () => {
  it('reads the capabilities', () => {
    expect(seen.title).toBe('WPS Scheduler');
    expect(seen.processes).toEqual(['hello', 'sleep', 'ultimate_question', 'wordcounter', 'bbox', 'inout', 'show_error']);
  });

  it('describes every process with typed inputs and outputs', () => {
    expect(Object.keys(seen.describe)).toHaveLength(7);
    const inout = seen.describe.inout;
    expect(inout.storeSupported).toBe(true);
    expect(inout.inputs.map((i: { identifier: string; dataType: string }) => [i.identifier, i.dataType])).toEqual([
      ['int_in', 'integer'], ['bool_in', 'boolean'], ['float_in', 'float'], ['string_in', 'string'], ['tags', 'string'],
    ]);
    expect(inout.inputs[3].allowedValues).toEqual(['rock', 'paper', 'scissors']);
    expect(inout.inputs[4]).toMatchObject({ minOccurs: 0, maxOccurs: 3 });
    expect(seen.describe.sleep.inputs[0]).toMatchObject({ identifier: 'delay', dataType: 'float', defaultValue: 10, minOccurs: 0 });
    expect(seen.describe.wordcounter.inputs[0]).toMatchObject({ dataType: 'ComplexData', supportedValues: ['text/plain'] });
    expect(seen.describe.bbox.inputs[0].dataType).toBe('BoundingBoxData');
  });

  it('executes hello, wordcounter (complex input), inout and bbox synchronously', () => {
    expect(seen.hello).toEqual({ status: 'ProcessSucceeded', outputs: { output: ['Hello OWSLib'] } });
    expect(seen.wordcounter.status).toBe('ProcessSucceeded');
    expect(JSON.parse(seen.wordcounter.outputs.output[0])).toEqual({ total: 3, counts: { one: 1, two: 2 } });
    expect(seen.inout).toEqual({
      status: 'ProcessSucceeded',
      outputs: { int_out: ['5'], bool_out: ['true'], float_out: ['2.5'], string_out: ['scissors'], tags_out: ['x,y'] },
    });
    // OWSLib reads EPSG:4326 corners in the CRS's lat/lon axis order, hence the swap.
    expect(seen.bbox).toEqual({ status: 'ProcessSucceeded', outputs: { bboxout: [['2', '1', '4', '3', 'EPSG:4326']] } });
  });

  it('sees the failure with the process message', () => {
    // OWSLib turns the status into 'Exception' when ProcessFailed holds an ExceptionReport.
    expect(seen.show_error).toEqual({
      status: 'Exception',
      errors: [{ code: 'NoApplicableCode', text: 'This process failed intentionally.' }],
    });
  });

  it('reports the exception code of an invalid input', () => {
    expect(seen.invalid.type).toBe('ServiceException');
    expect(seen.invalid.message).toContain('exceptionCode="InvalidParameterValue"');
    expect(seen.invalid.message).toContain('locator="int_in"');
  });
});
