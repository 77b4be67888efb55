/**
 * Peer-controlled text made safe to show. Names, chat texts, rooms, announced hosts and
 * ProtocolError reasons come from other nodes; printed raw, a control character could move the
 * cursor, clear the screen, or start a line that looks like another user's message, and a bidi
 * override could show a text in an order other than the one that was sent.
 *
 * Replaced before display, each by U+FFFD (a tab by a space):
 * - C0 controls U+0000-U+001F (ESC, CR, LF, BS, ...) and DEL U+007F;
 * - C1 controls U+0080-U+009F (U+009B is CSI on terminals that take 8-bit controls);
 * - bidi embeddings and overrides U+202A-U+202E, isolates U+2066-U+2069, marks U+200E, U+200F
 *   and U+061C;
 * - the line and paragraph separators U+2028, U+2029.
 */

const UNSAFE =
  // eslint-disable-next-line no-control-regex -- matching control characters is the point
  /[\u0000-\u0008\u000a-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g;

/** The text with every unsafe character replaced; one line, whatever it contained. */
export function forTerminal(text: string): string {
  return text.replace(/\t/g, ' ').replace(UNSAFE, '\ufffd');
}

/** The unsafe characters JSON.stringify leaves raw: DEL, C1, bidi controls, separators. */
const RAW_IN_JSON = /[\u007f-\u009f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g;

/**
 * A JSON text with the unsafe characters JSON.stringify leaves raw written as `\u` escapes of
 * four hex digits instead (it already escapes C0). They can only occur inside strings, so the
 * text parses to the same value: scripts see exactly what was sent, and a terminal that shows
 * the line sees no control.
 */
export function escapeJsonControls(json: string): string {
  return json.replace(RAW_IN_JSON, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}
