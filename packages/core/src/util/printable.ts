/**
 * Text from a model or a plugin (tensor names, op types, messages) reaches the terminal:
 * escape sequences in it could clear the screen or print fake lines. These helpers make
 * such text visible instead of interpreted.
 */

// C0 controls, DEL, C1 controls (0x9b is an 8-bit CSI), and the bidirectional overrides
// and isolates that reorder what a terminal shows.
const CONTROLS = /[\u0000-\u001f\u007f-\u009f\u200e\u200f\u202a-\u202e\u2066-\u2069]/g;
const CONTROLS_BUT_LAYOUT = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u200e\u200f\u202a-\u202e\u2066-\u2069]/g;
const NAMED: Record<string, string> = { '\n': '\\n', '\r': '\\r', '\t': '\\t' };

function escapeOne(c: string): string {
  const named = NAMED[c];
  if (named) return named;
  const code = c.charCodeAt(0);
  return code < 0x100 ? `\\x${code.toString(16).padStart(2, '0')}` : `\\u${code.toString(16).padStart(4, '0')}`;
}

/** One field (a name, a value): every control character escaped, newlines included. */
export function printableName(text: string): string {
  return text.replace(CONTROLS, escapeOne);
}

/** Report or message text: control characters escaped, newlines and tabs kept. */
export function printableText(text: string): string {
  return text.replace(CONTROLS_BUT_LAYOUT, escapeOne);
}

/** `"name"` with its control characters escaped (for messages that quote a name). */
export function quoteName(text: string | null | undefined): string {
  return `"${printableName(text ?? '')}"`;
}

/** JSON text whose string contents hold no character a terminal would act on (still valid JSON). */
export function printableJson(json: string): string {
  return json.replace(/[\u007f-\u009f\u200e\u200f\u202a-\u202e\u2066-\u2069\u2028\u2029]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}
