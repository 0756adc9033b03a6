/** Text as XML character data or an attribute value: the five characters XML reserves, as character references. */
export function xmlEscape(text: string): string {
  return text.replace(/[<>&"']/g, (c) => `&#${c.charCodeAt(0)};`);
}
