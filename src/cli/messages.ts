/**
 * How the CLI prints an error: one line, whatever the message holds. Values echoed from the
 * command line or from files may carry line breaks or control characters; those are shown
 * escaped (`\n`) so stderr keeps pathlens's one-line contract.
 */

/** The message as printed after `pathlens: `. */
export function printedMessage(message: string): string {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: escaping control characters is the point
  const escaped = message.replace(/[\u0000-\u001f\u007f]/g, (c) => JSON.stringify(c).slice(1, -1));
  return escaped.trim();
}
