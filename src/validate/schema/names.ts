// Kubernetes name and label rules (apimachinery's validation), shared by the
// schema layer (metadata) and the rules layer (selectors, subsets, ports).
// Pure; imports nothing.

const DNS1123_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const DNS1123_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const QUALIFIED_NAME = /^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$/;
const LABEL_VALUE = /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/;

/** Undefined when valid, else the reason in Kubernetes' words. */
export function dns1123LabelError(v: string): string | undefined {
  if (v.length > 63) return `must be no more than 63 characters`;
  if (!DNS1123_LABEL.test(v)) return `a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character`;
  return undefined;
}

export function dns1123SubdomainError(v: string): string | undefined {
  if (v.length > 253) return `must be no more than 253 characters`;
  if (!DNS1123_SUBDOMAIN.test(v)) return `a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character`;
  return undefined;
}

/** A label key: optional DNS subdomain prefix and `/`, then a name of at most 63 characters. */
export function labelKeyError(key: string): string | undefined {
  const parts = key.split('/');
  if (parts.length > 2) return `a qualified name must consist of an optional DNS subdomain prefix and '/', then a name`;
  const name = parts[parts.length - 1]!;
  if (parts.length === 2) {
    if (parts[0] === '') return `prefix part must be non-empty`;
    const e = dns1123SubdomainError(parts[0]!);
    if (e) return `prefix part ${e}`;
  }
  if (name === '') return `name part must be non-empty`;
  if (name.length > 63) return `name part must be no more than 63 characters`;
  if (!QUALIFIED_NAME.test(name)) return `name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character`;
  return undefined;
}

export function labelValueError(v: string): string | undefined {
  if (v.length > 63) return `must be no more than 63 characters`;
  if (!LABEL_VALUE.test(v)) return `a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character`;
  return undefined;
}
