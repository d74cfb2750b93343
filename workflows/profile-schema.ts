/**
 * The identity profile schema: the 28 built-in employment fields, typed email addresses, tenant-defined
 * custom attributes, and the pure rules that validate and normalise values and order sources.
 * Pure on purpose (no I/O): the repositories, the API, activities and workflows all use these same
 * functions, so an HR event is refused for exactly the reasons a profile write would be.
 */

/** Where a profile value came from. */
export const ProfileSources = ['hr_connector', 'scim', 'directory_import', 'federation', 'manual'] as const;
export type ProfileSource = (typeof ProfileSources)[number];

/**
 * The order used for an attribute the tenant has not configured, highest first: the HR system is the
 * authority for employment facts, then provisioning from an IdP, then directory imports, then what a
 * federated sign-in asserted, then hand edits.
 */
export const DefaultSourcePrecedence: readonly ProfileSource[] = ProfileSources;

export const AttributeTypes = ['string', 'number', 'boolean', 'date', 'enum', 'reference'] as const;
export type AttributeType = (typeof AttributeTypes)[number];

/** Who may write an attribute through the API: only a source, an administrator, or also the person. */
export const Mutabilities = ['source_only', 'admin_editable', 'self_editable'] as const;
export type Mutability = (typeof Mutabilities)[number];

/** A scalar profile value as stored in the flat projection; null clears. */
export type ProfileValue = string | number | boolean | null;

export const EmailTypes = ['work', 'home', 'other'] as const;
export type EmailType = (typeof EmailTypes)[number];

export interface ProfileEmail {
  type: EmailType;
  value: string;
  primary: boolean;
}

/** Everything needed to validate one attribute, built-in or custom. */
export interface AttributeSpec {
  key: string;
  label: string;
  type: AttributeType;
  builtIn: boolean;
  mutability: Mutability;
  /** A required attribute can be set but never cleared. */
  required: boolean;
  enumValues: readonly string[] | null;
  /** For strings: a regular expression the whole value must match. */
  pattern: string | null;
  /** For numbers: bounds; for strings: length bounds. */
  min: number | null;
  max: number | null;
  /** A named format with its own normalisation (built-ins only). */
  format: 'email' | 'country' | null;
  description: string;
}

/** A tenant-defined attribute as the repositories return it. */
export interface CustomAttributeDefinition {
  id: string;
  key: string;
  label: string;
  type: AttributeType;
  required: boolean;
  mutability: Mutability;
  enumValues: string[] | null;
  pattern: string | null;
  min: number | null;
  max: number | null;
  description: string | null;
}

const MAX_STRING = 1000;

function field(
  key: string, label: string, type: AttributeType, description: string,
  extra: Partial<Pick<AttributeSpec, 'enumValues' | 'min' | 'max' | 'format' | 'mutability' | 'pattern'>> = {},
): AttributeSpec {
  return {
    key, label, type, builtIn: true, required: false, mutability: extra.mutability ?? 'admin_editable',
    enumValues: extra.enumValues ?? null, pattern: extra.pattern ?? null, min: extra.min ?? null, max: extra.max ?? null,
    format: extra.format ?? null, description,
  };
}

export const EmploymentStatuses = ['pending', 'active', 'on_leave', 'suspended', 'terminated'] as const;
export const WorkerTypes = ['employee', 'contractor', 'contingent', 'intern', 'vendor', 'other'] as const;

/** The 28 built-in employment fields, by API name. Documented in docs/identity-profiles.md. */
export const BuiltInFields: readonly AttributeSpec[] = [
  field('employeeNumber', 'Employee number', 'string', 'The HR system\'s identifier of the worker', { mutability: 'source_only', max: 64 }),
  field('employeeType', 'Employee type', 'string', 'The HR system\'s classification (free text, as SCIM\'s employeeType)'),
  field('employmentStatus', 'Employment status', 'enum', 'Where the worker is in their employment', { enumValues: EmploymentStatuses, mutability: 'source_only' }),
  field('jobTitle', 'Job title', 'string', 'The title of the position'),
  field('jobCode', 'Job code', 'string', 'The HR system\'s code of the position', { max: 64 }),
  field('jobFamily', 'Job family', 'string', 'The group of related jobs'),
  field('jobLevel', 'Job level', 'string', 'The level or band within the job family', { max: 64 }),
  field('department', 'Department', 'string', 'The department name'),
  field('departmentCode', 'Department code', 'string', 'The department\'s code', { max: 64 }),
  field('division', 'Division', 'string', 'The division'),
  field('costCenter', 'Cost center', 'string', 'The cost center charged', { max: 64 }),
  field('organization', 'Organization', 'string', 'The organization'),
  field('businessUnit', 'Business unit', 'string', 'The business unit'),
  field('company', 'Company / legal entity', 'string', 'The employing legal entity'),
  field('location', 'Location', 'string', 'The work location (site or office)'),
  field('workCountry', 'Work country', 'string', 'ISO 3166-1 alpha-2 code, normalised to upper case', { format: 'country' }),
  field('workRegion', 'Work region', 'string', 'The region (e.g. EMEA, state or province)'),
  field('manager', 'Manager', 'reference', 'The person id of the manager, a person of the same tenant'),
  field('hireDate', 'Hire date', 'date', 'Date the worker was (last) hired', { mutability: 'source_only' }),
  field('startDate', 'Start date', 'date', 'First day of work', { mutability: 'source_only' }),
  field('terminationDate', 'Termination date', 'date', 'Date the employment ends', { mutability: 'source_only' }),
  field('lastWorkingDay', 'Last working day', 'date', 'Last day the worker works', { mutability: 'source_only' }),
  field('contractEndDate', 'Contract end date', 'date', 'End of a fixed-term contract'),
  field('workerType', 'Worker type', 'enum', 'Kind of worker', { enumValues: WorkerTypes }),
  field('fte', 'FTE', 'number', 'Full-time equivalent, 0 to 1', { min: 0, max: 1 }),
  field('payGrade', 'Pay grade', 'string', 'The pay grade', { max: 64 }),
  field('preferredName', 'Preferred name', 'string', 'The name the person wants to be called', { mutability: 'self_editable', max: 200 }),
  field('workEmail', 'Work email', 'string', 'The work email address, normalised to lower case', { format: 'email', max: 320 }),
];

const builtInByKey: ReadonlyMap<string, AttributeSpec> = new Map(BuiltInFields.map((f) => [f.key, f]));

/** The multi-valued email attribute's name in provenance, history and resolution issues. */
export const EMAILS_ATTRIBUTE = 'emails';
/** Who may edit the emails through the API. */
export const EmailsMutability: Mutability = 'admin_editable';

/** Attribute keys: letters, digits and _, starting with a letter (the projection's key syntax). */
export const ATTRIBUTE_KEY_PATTERN = /^[A-Za-z][A-Za-z0-9_]{0,63}$/;

/** True when a custom attribute may not use this key (a built-in field or the emails attribute). */
export function isReservedAttributeKey(key: string): boolean {
  return builtInByKey.has(key) || key === EMAILS_ATTRIBUTE;
}

/** The spec of a tenant-defined attribute. */
export function customSpec(d: CustomAttributeDefinition): AttributeSpec {
  return {
    key: d.key, label: d.label, type: d.type, builtIn: false, required: d.required, mutability: d.mutability,
    enumValues: d.enumValues, pattern: d.pattern, min: d.min, max: d.max, format: null, description: d.description ?? '',
  };
}

/** Every attribute a tenant's profiles may hold: the built-ins, then its custom attributes. */
export function attributeSpecs(custom: readonly CustomAttributeDefinition[]): Map<string, AttributeSpec> {
  const specs = new Map(builtInByKey);
  for (const d of custom) specs.set(d.key, customSpec(d));
  return specs;
}

const DATE = /^(\d{4})-(\d{2})-(\d{2})$/;
const EMAIL = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** True for a real calendar date written YYYY-MM-DD. */
export function isCalendarDate(value: string): boolean {
  const m = DATE.exec(value);
  if (!m) return false;
  const d = new Date(Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3])));
  return d.getUTCFullYear() === Number(m[1]) && d.getUTCMonth() === Number(m[2]) - 1 && d.getUTCDate() === Number(m[3]);
}

type Check = { ok: true; value: ProfileValue } | { ok: false; reason: string };

/** Validates and normalises one value against its spec; null clears (unless required). */
export function normaliseValue(spec: AttributeSpec, raw: unknown): Check {
  if (raw === null || raw === undefined) {
    return spec.required ? { ok: false, reason: 'is required and cannot be cleared' } : { ok: true, value: null };
  }
  if (typeof raw !== 'string' && typeof raw !== 'number' && typeof raw !== 'boolean') {
    return { ok: false, reason: 'must be a string, number, boolean or null' };
  }
  // Sources (CSV above all) send everything as text: trim it, and treat an empty string as "clear".
  const text = typeof raw === 'string' ? raw.trim() : null;
  if (text === '') return normaliseValue(spec, null);
  switch (spec.type) {
    case 'string': {
      if (text === null) return { ok: false, reason: 'must be a string' };
      let value = text;
      if (spec.format === 'email') {
        value = value.toLowerCase();
        if (!EMAIL.test(value)) return { ok: false, reason: 'must be an email address' };
      }
      if (spec.format === 'country') {
        value = value.toUpperCase();
        if (!/^[A-Z]{2}$/.test(value)) return { ok: false, reason: 'must be an ISO 3166-1 alpha-2 country code' };
      }
      const max = Math.min(spec.max ?? MAX_STRING, MAX_STRING);
      if (value.length > max) return { ok: false, reason: `must be at most ${max} characters` };
      if (spec.min !== null && value.length < spec.min) return { ok: false, reason: `must be at least ${spec.min} characters` };
      if (spec.pattern !== null && !safeRegExp(spec.pattern)?.test(value)) return { ok: false, reason: `must match ${spec.pattern}` };
      return { ok: true, value };
    }
    case 'number': {
      const n = typeof raw === 'number' ? raw : text !== null && /^-?\d+(\.\d+)?$/.test(text) ? Number(text) : NaN;
      if (!Number.isFinite(n)) return { ok: false, reason: 'must be a number' };
      if (spec.min !== null && n < spec.min) return { ok: false, reason: `must be at least ${spec.min}` };
      if (spec.max !== null && n > spec.max) return { ok: false, reason: `must be at most ${spec.max}` };
      return { ok: true, value: n };
    }
    case 'boolean': {
      if (typeof raw === 'boolean') return { ok: true, value: raw };
      if (text === 'true' || text === 'false') return { ok: true, value: text === 'true' };
      return { ok: false, reason: 'must be true or false' };
    }
    case 'date':
      if (text === null || !isCalendarDate(text)) return { ok: false, reason: 'must be a date written YYYY-MM-DD' };
      return { ok: true, value: text };
    case 'enum': {
      if (text === null) return { ok: false, reason: 'must be one of the allowed values' };
      const values = spec.enumValues ?? [];
      // Built-in enums are snake_case codes; HR systems send "On Leave" or "ACTIVE". Custom enums match exactly
      // after trimming, or case-insensitively when that is unambiguous.
      const candidate = spec.builtIn ? text.toLowerCase().replace(/[\s-]+/g, '_') : text;
      const exact = values.find((v) => v === candidate);
      const folded = values.filter((v) => v.toLowerCase() === candidate.toLowerCase());
      const value = exact ?? (folded.length === 1 ? folded[0] : undefined);
      if (value === undefined) return { ok: false, reason: `must be one of ${values.join(', ')}` };
      return { ok: true, value };
    }
    case 'reference':
      if (text === null || !UUID.test(text)) return { ok: false, reason: 'must be a person id' };
      return { ok: true, value: text.toLowerCase() };
  }
}

/** A pattern compiled once; a pattern that does not compile matches nothing (definitions are checked on write). */
const patterns = new Map<string, RegExp | null>();
function safeRegExp(pattern: string): RegExp | null {
  if (!patterns.has(pattern)) {
    try {
      patterns.set(pattern, new RegExp(`^(?:${pattern})$`, 'u'));
    } catch {
      patterns.set(pattern, null);
    }
  }
  return patterns.get(pattern) ?? null;
}

/** True when a pattern compiles as a JavaScript regular expression (checked when a definition is written). */
export function isValidPattern(pattern: string): boolean {
  return safeRegExp(pattern) !== null;
}

export interface ProfileValueError {
  attribute: string;
  reason: string;
}

export interface ValidatedValues {
  /** Valid values, normalised (trimmed, canonical case, numbers as numbers, '' as null). */
  values: Record<string, ProfileValue>;
  /** One entry per invalid or unknown attribute; nothing is stored for these. */
  errors: ProfileValueError[];
}

/**
 * Validates and normalises profile values against the built-in fields and the tenant's custom attributes.
 * Unknown attributes are errors. References are only checked for form here: whether the person exists is
 * the repository's job.
 */
export function validateProfileValues(
  values: Readonly<Record<string, unknown>>, customDefinitions: readonly CustomAttributeDefinition[],
): ValidatedValues {
  const specs = attributeSpecs(customDefinitions);
  const out: Record<string, ProfileValue> = {};
  const errors: ProfileValueError[] = [];
  for (const key of Object.keys(values).sort()) {
    const spec = specs.get(key);
    if (!spec) {
      errors.push({ attribute: key, reason: key === EMAILS_ATTRIBUTE ? 'emails are given separately, as a list' : 'is not a profile attribute of this tenant' });
      continue;
    }
    const checked = normaliseValue(spec, values[key]);
    if (checked.ok) out[key] = checked.value;
    else errors.push({ attribute: key, reason: checked.reason });
  }
  return { values: out, errors };
}

export interface ValidatedEmails {
  emails: ProfileEmail[] | null;
  errors: ProfileValueError[];
}

/**
 * Validates a complete list of email addresses: each typed work/home/other, no address twice, and exactly
 * one primary when the list is not empty. Normalised to lower case and a stable order (primary first).
 */
export function validateEmails(emails: readonly unknown[]): ValidatedEmails {
  const errors: ProfileValueError[] = [];
  const out: ProfileEmail[] = [];
  const seen = new Set<string>();
  emails.forEach((raw, i) => {
    const at = `${EMAILS_ATTRIBUTE}[${i}]`;
    if (!raw || typeof raw !== 'object') {
      errors.push({ attribute: at, reason: 'must be an object with type, value and primary' });
      return;
    }
    const e = raw as Record<string, unknown>;
    const unknownKeys = Object.keys(e).filter((k) => !['type', 'value', 'primary'].includes(k));
    if (unknownKeys.length > 0) errors.push({ attribute: at, reason: `unknown fields: ${unknownKeys.join(', ')}` });
    if (typeof e.type !== 'string' || !(EmailTypes as readonly string[]).includes(e.type)) errors.push({ attribute: `${at}.type`, reason: 'must be work, home or other' });
    const value = typeof e.value === 'string' ? e.value.trim().toLowerCase() : '';
    if (!EMAIL.test(value) || value.length > 320) errors.push({ attribute: `${at}.value`, reason: 'must be an email address' });
    else if (seen.has(value)) errors.push({ attribute: `${at}.value`, reason: 'is listed twice' });
    if (typeof e.primary !== 'boolean') errors.push({ attribute: `${at}.primary`, reason: 'must be true or false' });
    seen.add(value);
    out.push({ type: e.type as EmailType, value, primary: e.primary === true });
  });
  if (emails.length > 20) errors.push({ attribute: EMAILS_ATTRIBUTE, reason: 'at most 20 addresses' });
  const primaries = out.filter((e) => e.primary).length;
  if (out.length > 0 && primaries !== 1) errors.push({ attribute: EMAILS_ATTRIBUTE, reason: `exactly one address must be primary (found ${primaries})` });
  if (errors.length > 0) return { emails: null, errors };
  const order = (e: ProfileEmail) => `${e.primary ? 0 : 1}:${EmailTypes.indexOf(e.type)}:${e.value}`;
  return { emails: [...out].sort((a, b) => order(a).localeCompare(order(b))), errors };
}

/** The rank of a source in an order (0 is highest); sources an order omits rank below all listed ones. */
export function sourceRank(order: readonly ProfileSource[], source: ProfileSource): number {
  const i = order.indexOf(source);
  return i === -1 ? order.length : i;
}

/** True when a list names each source exactly once. */
export function isCompleteSourceOrder(order: readonly string[]): order is ProfileSource[] {
  return order.length === ProfileSources.length && ProfileSources.every((s) => order.includes(s));
}

/** Equality of normalised attribute values (scalars, or email lists in their normal order). */
export function sameProfileValue(a: unknown, b: unknown): boolean {
  return sortedJson(a) === sortedJson(b);
}

// Keys sorted: jsonb does not keep the key order an object was written with.
function sortedJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(sortedJson).join(',')}]`;
  if (value && typeof value === 'object') {
    return `{${Object.keys(value).sort().map((k) => `${JSON.stringify(k)}:${sortedJson((value as Record<string, unknown>)[k])}`).join(',')}}`;
  }
  return JSON.stringify(value ?? null);
}
