/**
 * The dashboard's browser code that needs no browser: the event-stream parser of its fetch-based
 * SSE reader (the rules of the HTML standard's `text/event-stream`) and money in minor units shown
 * in major units.
 */
import { describe, expect, it } from 'vitest';
import { formatMoney, majorDecimal, toMajor } from '../../query/dashboard/client/format.js';
import { currencyDigits } from '../../lib/currency.js';
import { EventStreamParser, type SseMessage } from '../../query/dashboard/client/event-stream.js';

function parse(chunks: readonly string[]): { messages: SseMessage[]; parser: EventStreamParser } {
  const messages: SseMessage[] = [];
  const parser = new EventStreamParser((m) => messages.push(m));
  for (const c of chunks) parser.push(c);
  return { messages, parser };
}

describe('dashboard event-stream parser', () => {
  it('dispatches events with their name, data and id; ignores comments; keeps retry', () => {
    const { messages, parser } = parse([
      'retry: 3000\n: connected to trib:analytics:updates\n\n',
      'id: e1-1\nevent: batch\ndata: {"type":"batch","events":5}\n\n',
      ': heartbeat\n\n',
      'data: no name\n\n',
    ]);
    expect(parser.retryMs).toBe(3000);
    expect(messages).toEqual([
      { event: 'batch', data: '{"type":"batch","events":5}', id: 'e1-1' },
      // The last id carries over to later events, as the standard says.
      { event: 'message', data: 'no name', id: 'e1-1' },
    ]);
  });

  it('joins data lines and copes with lines and CRLFs split across chunks', () => {
    const { messages } = parse(['event: fi', 'nal\r', '\ndata: a\r\nda', 'ta:b\r\n', '\r\n', 'data: c\n']);
    expect(messages).toEqual([{ event: 'final', data: 'a\nb', id: undefined }]);
  });

  it('does not dispatch an event with no data', () => {
    expect(parse(['event: reset\n\n']).messages).toEqual([]);
  });
});

describe('dashboard money', () => {
  it('shows minor units as major units of the currency, with its own number of digits', () => {
    expect(currencyDigits('EUR')).toBe(2);
    expect(currencyDigits('JPY')).toBe(0);
    expect(currencyDigits('BHD')).toBe(3);
    expect(toMajor(123456, 'EUR')).toBe(1234.56);
    expect(toMajor(1500, 'JPY')).toBe(1500);
    expect(formatMoney(123456, 'EUR')).toMatch(/1,?234[.,]56/);
    expect(formatMoney(5, 'XYZ')).toContain('XYZ');
  });

  it("shows revenue past 2^53 to the last digit, from the API's decimal strings", () => {
    expect(majorDecimal('27014398509481981', 'EUR')).toBe('270143985094819.81');
    expect(majorDecimal('9007199254740993', 'JPY')).toBe('9007199254740993');
    expect(majorDecimal('-5', 'BHD')).toBe('-0.005');
    expect(majorDecimal(123456, 'EUR')).toBe('1234.56');
    // Every digit, whatever the locale's grouping and symbol.
    expect(formatMoney('27014398509481981', 'EUR').replace(/\D/g, '')).toBe('27014398509481981');
    expect(formatMoney('9007199254740993', 'XYZ').replace(/\D/g, '')).toBe('9007199254740993');
    // Compact is an explicit abbreviation (the KPI card), not a rounding of the full figure.
    expect(formatMoney('27014398509481981', 'EUR', { compact: true })).toMatch(/270[.,]1\s?T/);
  });
});
