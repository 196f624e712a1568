import { boundingBoxInput, boundingBoxOutput, defineProcess } from '../src/process/declare.js';

const CRSS = ['EPSG:4326', 'EPSG:3857', 'EPSG:3035'];

export default defineProcess({
  identifier: 'bbox',
  title: 'Bounding box echo',
  abstract: 'Returns the bounding box it was given.',
  inputs: [boundingBoxInput('bboxin', { title: 'Bounding box', crss: CRSS })],
  outputs: [boundingBoxOutput('bboxout', { title: 'Bounding box', crss: CRSS })],
  handler({ inputs }) {
    const { lowerCorner, upperCorner, crs } = inputs.bbox('bboxin')!;
    return { bboxout: { lowerCorner, upperCorner, crs } };
  },
});
