/**
 * Currency facts shared by the CLI tables (query/table.ts) and the dashboard's browser bundle, so
 * no Node-only API here. Money is integer minor units with an ISO 4217 code (DESIGN.md §3); how
 * many minor digits a code has comes from Intl (2 for EUR, 0 for JPY, 3 for BHD), never a guess.
 */

const digitsCache = new Map<string, number>();

/** Decimal places of a currency's minor unit; 2 for a code Intl does not know. */
export function currencyDigits(currency: string): number {
  let digits = digitsCache.get(currency);
  if (digits === undefined) {
    try {
      digits =
        new Intl.NumberFormat('en', { style: 'currency', currency }).resolvedOptions()
          .maximumFractionDigits ?? 2;
    } catch {
      digits = 2;
    }
    digitsCache.set(currency, digits);
  }
  return digits;
}
