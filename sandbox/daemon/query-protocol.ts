import { escapeXml, type WireResponse } from './aws-errors.ts';
import type { ParsedCall } from './services/service.ts';

/**
 * The AWS query protocol (STS, SNS): form-encoded POST bodies with flattened parameters
 * (`Tags.member.1.Key=...`), XML answers wrapped in `<ActionResponse><ActionResult>`.
 */

/** Form body to an ordered map of parameters (`+` is a space, as in any form body). */
export function parseFormBody(body: string): Map<string, string> {
  const params = new Map<string, string>();
  for (const [key, value] of new URLSearchParams(body)) params.set(key, value);
  return params;
}

/** A query-protocol request: its `Action`, and the other parameters less `Version`. */
export function parseQueryCall(body: string): ParsedCall {
  const form = parseFormBody(body);
  const action = form.get('Action') ?? '';
  form.delete('Action');
  form.delete('Version');
  return { action, params: Object.fromEntries(form) };
}

/** `Prefix.member.N` values, in order of N (1-based, gaps end the list as AWS does). */
export function memberList(params: Map<string, string>, prefix: string): string[] {
  const values: string[] = [];
  for (let n = 1; params.has(`${prefix}.member.${n}`); n++) {
    values.push(params.get(`${prefix}.member.${n}`)!);
  }
  return values;
}

/** `Prefix.member.N.Key` / `.Value` pairs. */
export function memberPairs(
  params: Map<string, string>,
  prefix: string,
): Array<{ Key: string; Value: string }> {
  const pairs: Array<{ Key: string; Value: string }> = [];
  for (let n = 1; params.has(`${prefix}.member.${n}.Key`); n++) {
    pairs.push({
      Key: params.get(`${prefix}.member.${n}.Key`)!,
      Value: params.get(`${prefix}.member.${n}.Value`) ?? '',
    });
  }
  return pairs;
}

/**
 * An XML element tree as nested objects: strings, numbers and booleans are text, objects
 * are children, an array repeats its element (`{ member: [a, b] }` is two `<member>`s).
 */
export type XmlValue =
  | string
  | number
  | boolean
  | XmlValue[]
  | { [name: string]: XmlValue | undefined };

export function toXml(name: string, value: XmlValue, indent = ''): string {
  if (Array.isArray(value)) return value.map((item) => toXml(name, item, indent)).join('');
  if (typeof value !== 'object') {
    return `${indent}<${name}>${escapeXml(String(value))}</${name}>\n`;
  }
  const children = Object.entries(value)
    .filter(([, v]) => v !== undefined)
    .map(([k, v]) => toXml(k, v as XmlValue, `${indent}  `))
    .join('');
  return `${indent}<${name}>\n${children}${indent}</${name}>\n`;
}

/** A successful query-protocol answer for `action`. */
export function queryResponse(
  action: string,
  namespace: string,
  result: XmlValue | undefined,
  requestId: string,
): WireResponse {
  const resultXml = result === undefined ? '' : toXml(`${action}Result`, result, '  ');
  const body =
    `<${action}Response xmlns="${namespace}">\n${resultXml}` +
    `  <ResponseMetadata>\n    <RequestId>${requestId}</RequestId>\n  </ResponseMetadata>\n` +
    `</${action}Response>\n`;
  return {
    status: 200,
    headers: { 'content-type': 'text/xml', 'x-amzn-requestid': requestId },
    body,
  };
}
