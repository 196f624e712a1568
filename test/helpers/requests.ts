/** Builders for XML Execute requests, as clients write them. */
export const WPS_NS =
  'xmlns:wps="http://www.opengis.net/wps/1.0.0" xmlns:ows="http://www.opengis.net/ows/1.1" xmlns:xlink="http://www.w3.org/1999/xlink"';

export const executeXml = (id: string, inputs: string, form = '') =>
  `<?xml version="1.0" encoding="UTF-8"?><wps:Execute service="WPS" version="1.0.0" ${WPS_NS}><ows:Identifier>${id}</ows:Identifier>${inputs ? `<wps:DataInputs>${inputs}</wps:DataInputs>` : ''}${form}</wps:Execute>`;

export const literal = (id: string, value: string, attrs = '') =>
  `<wps:Input><ows:Identifier>${id}</ows:Identifier><wps:Data><wps:LiteralData${attrs}>${value}</wps:LiteralData></wps:Data></wps:Input>`;

export const complex = (id: string, content: string, attrs = ' mimeType="text/plain"') =>
  `<wps:Input><ows:Identifier>${id}</ows:Identifier><wps:Data><wps:ComplexData${attrs}>${content}</wps:ComplexData></wps:Data></wps:Input>`;

export const reference = (id: string, href: string, attrs = '', inner = '') =>
  `<wps:Input><ows:Identifier>${id}</ows:Identifier><wps:Reference xlink:href="${href}"${attrs}>${inner}</wps:Reference></wps:Input>`;
