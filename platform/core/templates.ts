/**
 * Message templates: a body with {{variable}} placeholders. Rendering replaces each placeholder
 * with the value given for it, verbatim; a placeholder without a value is an error naming it.
 */
const PLACEHOLDER = /\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}/g;

/** The variables a template body uses, in order of first appearance. */
export function templateVariables(body: string): string[] {
  return [...new Set([...body.matchAll(PLACEHOLDER)].map((match) => match[1] ?? ''))];
}

/** The body with every placeholder replaced; `missing` lists the variables without a value. */
export function renderTemplate(
  body: string,
  values: Record<string, string>,
): { text: string; missing: string[] } {
  const missing = templateVariables(body).filter((name) => !Object.hasOwn(values, name));
  const text = body.replace(PLACEHOLDER, (whole, name: string) =>
    Object.hasOwn(values, name) ? (values[name] ?? '') : whole,
  );
  return { text, missing };
}
