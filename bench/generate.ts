/**
 * Realistic attribute definitions for the benchmark, as LDIF for `slapadd`: business-domain families
 * (HR, finance, education, ...) of custom person attributes with names, display names, descriptions,
 * claims, SAML URIs, types, statuses and the optional fields in the proportions a large deployment has.
 * Deterministic (seeded), so every run loads the same data.
 */

/** The pattern token of the list scenarios; it appears in the 14 standard eduPerson definitions and in
 * one domain family of the generated ones (about 5 % of them), and nowhere else. */
export const PATTERN_TOKEN = 'edu';

interface Domain {
  prefix: string;
  label: string;
  system: string;
}

const DOMAINS: Domain[] = [
  { prefix: 'hr', label: 'HR', system: 'the human resources system' },
  { prefix: 'fin', label: 'Finance', system: 'the finance ledger' },
  { prefix: 'crm', label: 'CRM', system: 'the customer relationship platform' },
  { prefix: 'iam', label: 'Identity', system: 'the identity governance tool' },
  { prefix: 'edu', label: 'Education', system: 'the education records office' },
  { prefix: 'med', label: 'Clinical', system: 'the clinical records system' },
  { prefix: 'gov', label: 'Public Sector', system: 'the citizen services portal' },
  { prefix: 'lib', label: 'Library', system: 'the library catalogue' },
  { prefix: 'ops', label: 'Operations', system: 'the operations workforce tool' },
  { prefix: 'sec', label: 'Security', system: 'the physical security office' },
  { prefix: 'erp', label: 'ERP', system: 'the enterprise resource planner' },
  { prefix: 'lms', label: 'Learning', system: 'the learning management platform' },
  { prefix: 'pay', label: 'Payroll', system: 'the payroll provider' },
  { prefix: 'res', label: 'Research', system: 'the research grants office' },
  { prefix: 'cx', label: 'Customer', system: 'the customer experience suite' },
  { prefix: 'mkt', label: 'Marketing', system: 'the marketing automation tool' },
  { prefix: 'sup', label: 'Support', system: 'the support desk' },
  { prefix: 'log', label: 'Logistics', system: 'the logistics planner' },
  { prefix: 'ins', label: 'Insurance', system: 'the policy administration system' },
  { prefix: 'tel', label: 'Telecom', system: 'the telephony platform' },
];

type DataType = 'string' | 'numeric' | 'boolean' | 'binary' | 'certificate' | 'generalizedTime' | 'json';

/** [camelCase noun, display name, what it is, data type]. None of them contains the pattern token. */
const NOUNS: [string, string, string, DataType][] = [
  ['CostCenter', 'Cost Center', 'cost center that the costs of the person are booked to', 'string'],
  ['EmployeeNumber', 'Employee Number', 'number under which the person is employed', 'numeric'],
  ['BadgeId', 'Badge ID', 'identifier printed on the access badge of the person', 'string'],
  ['HireDate', 'Hire Date', 'date on which the person joined', 'generalizedTime'],
  ['TerminationDate', 'Termination Date', 'date on which the contract of the person ends', 'generalizedTime'],
  ['ManagerRef', 'Manager', 'identifier of the line manager of the person', 'string'],
  ['OfficeLocation', 'Office Location', 'building and room where the person usually works', 'string'],
  ['DeskPhone', 'Desk Phone', 'fixed-line phone number at the desk of the person', 'string'],
  ['MobileNumber', 'Mobile Number', 'mobile phone number for urgent contact', 'string'],
  ['PreferredLanguage', 'Preferred Language', 'language the person wants to be addressed in', 'string'],
  ['TimeZone', 'Time Zone', 'IANA time zone the person works in', 'string'],
  ['JobTitle', 'Job Title', 'title of the position the person holds', 'string'],
  ['JobCode', 'Job Code', 'code of the job family of the position', 'string'],
  ['GradeLevel', 'Grade Level', 'pay grade of the position', 'numeric'],
  ['ContractType', 'Contract Type', 'kind of contract: permanent, fixed term or contractor', 'string'],
  ['ShiftPattern', 'Shift Pattern', 'rota the person is planned on', 'string'],
  ['ClearanceLevel', 'Clearance Level', 'security clearance granted to the person', 'numeric'],
  ['RiskScore', 'Risk Score', 'risk score computed at the last sign-in', 'numeric'],
  ['MfaEnrolled', 'MFA Enrolled', 'whether the person has a second factor enrolled', 'boolean'],
  ['ConsentFlags', 'Consent Flags', 'consents the person has given, as a JSON object', 'json'],
  ['MarketingOptIn', 'Marketing Opt-in', 'whether the person agreed to receive newsletters', 'boolean'],
  ['LoyaltyTier', 'Loyalty Tier', 'tier of the loyalty program the person belongs to', 'string'],
  ['AccountBalance', 'Account Balance', 'balance of the account of the person in cents', 'numeric'],
  ['CreditLimit', 'Credit Limit', 'credit limit granted to the person in cents', 'numeric'],
  ['TaxId', 'Tax ID', 'tax identification number of the person', 'string'],
  ['NationalId', 'National ID', 'number of the national identity card of the person', 'string'],
  ['StudentId', 'Student ID', 'matriculation number of the person', 'string'],
  [
    'EnrollmentStatus',
    'Enrollment Status',
    'whether the person is enrolled, on leave or graduated',
    'string',
  ],
  ['GraduationYear', 'Graduation Year', 'year in which the person graduated', 'numeric'],
  ['CourseList', 'Course List', 'courses the person is registered for', 'string'],
  ['CardNumber', 'Card Number', 'number of the member card of the person', 'string'],
  ['PatientId', 'Patient ID', 'identifier of the person as a patient', 'string'],
  ['PolicyNumber', 'Policy Number', 'number of the insurance policy of the person', 'string'],
  ['LicensePlate', 'License Plate', 'registration of the vehicle of the person', 'string'],
  ['DeviceSerial', 'Device Serial', 'serial number of the managed device of the person', 'string'],
  ['ClientCertificate', 'Client Certificate', 'X.509 certificate the person signs in with', 'certificate'],
  ['SigningKey', 'Signing Key', 'public key the person signs documents with', 'binary'],
  ['AvatarHash', 'Avatar Hash', 'hash of the profile picture of the person', 'binary'],
  ['LastLoginAt', 'Last Login', 'time of the last successful sign-in', 'generalizedTime'],
  ['PasswordChangedAt', 'Password Changed', 'time the password was last changed', 'generalizedTime'],
  ['ExternalRef', 'External Reference', 'identifier of the person in a partner system', 'string'],
  ['LegacyUid', 'Legacy UID', 'user name in the system that was replaced', 'string'],
  ['Region', 'Region', 'sales or service region of the person', 'string'],
  ['BranchCode', 'Branch Code', 'code of the branch the person belongs to', 'string'],
  ['Department', 'Department', 'department the person belongs to', 'string'],
  ['Division', 'Division', 'division the person belongs to', 'string'],
  ['SupervisorEmail', 'Supervisor Email', 'mail address of the supervisor of the person', 'string'],
  ['EmergencyContact', 'Emergency Contact', 'who to call in an emergency, as a JSON object', 'json'],
  ['DietaryPreference', 'Dietary Preference', 'dietary needs for catering', 'string'],
  ['Pronouns', 'Pronouns', 'pronouns the person wants to be addressed with', 'string'],
];

const VARIANTS = [
  'Primary',
  'Secondary',
  'Home',
  'Work',
  'Billing',
  'Shipping',
  'Legacy',
  'Internal',
  'External',
];

const DESCRIPTIONS = [
  (what: string, system: string) => `The ${what}, as recorded by ${system}.`,
  (what: string, system: string) => `Holds the ${what}; mastered in ${system} and synchronised nightly.`,
  (what: string, system: string) => `${capitalise(what)}. Provisioned from ${system}; read-only for users.`,
  (what: string, system: string) =>
    `Copy of the ${what} kept in ${system}, released to trusted clients only.`,
];

function capitalise(text: string): string {
  return text.charAt(0).toUpperCase() + text.slice(1);
}

/** mulberry32: small, fast, seeded. */
function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function snake(name: string): string {
  return name.replace(/([a-z0-9])([A-Z])/g, '$1_$2').toLowerCase();
}

/** Inum of the i-th generated definition: `B` and eight hex digits (the standard ones have four). */
export function generatedInum(i: number): string {
  return `B${i.toString(16).toUpperCase().padStart(8, '0')}`;
}

export interface Generated {
  ldif: string;
  inums: string[];
}

/** `count` definitions under `ou=attributes,<suffix>`, as LDIF, and their inums. */
export function generateDefinitions(count: number, suffix: string, seed = 20240601): Generated {
  const next = random(seed);
  const pick = <T>(list: T[]): T => list[Math.floor(next() * list.length)] as T;
  const used = new Map<string, number>();
  const chunks: string[] = [];
  const inums: string[] = [];
  for (let i = 0; i < count; i++) {
    const domain = pick(DOMAINS);
    const [noun, nounLabel, what, dataType] = pick(NOUNS);
    const variant = next() < 0.35 ? pick(VARIANTS) : '';
    const base = `${domain.prefix}${noun}${variant}`;
    const seen = (used.get(base.toLowerCase()) ?? 0) + 1;
    used.set(base.toLowerCase(), seen);
    const name = seen > 1 ? `${base}${seen}` : base;
    const displayName =
      `${domain.label} ${nounLabel}` + (variant ? ` (${variant})` : '') + (seen > 1 ? ` #${seen}` : '');
    const inum = generatedInum(i);
    inums.push(inum);
    const lines = [
      `dn: inum=${inum},ou=attributes,${suffix}`,
      'objectClass: top',
      'objectClass: jansAttr',
      `inum: ${inum}`,
      `jansAttrName: ${name}`,
      `displayName: ${displayName}`,
      `description: ${pick(DESCRIPTIONS)(what, domain.system)}`,
      `jansAttrOrigin: ${next() < 0.9 ? 'jansCustomPerson' : 'jansPerson'}`,
      `jansAttrTyp: ${dataType}`,
      'jansAttrEditTyp: admin',
    ];
    if (next() < 0.3) lines.push('jansAttrEditTyp: user');
    lines.push('jansAttrViewTyp: admin');
    if (next() < 0.6) lines.push('jansAttrViewTyp: user');
    if (next() < 0.05) lines.push('jansAttrViewTyp: whitePages');
    lines.push(
      `jansClaimName: ${snake(name)}`,
      `jansStatus: ${next() < 0.85 ? 'active' : 'inactive'}`,
      `urn: urn:jans:dir:attribute-def:${name}`,
      `jansSAML1URI: urn:mace:dir:attribute-def:${name}`,
      `jansSAML2URI: urn:oid:1.3.6.1.4.1.32473.1.${i + 1}`,
    );
    if (next() < 0.1) lines.push('jansMultivaluedAttr: TRUE');
    if (next() < 0.2) lines.push(`jansScimCustomAttr: ${next() < 0.8 ? 'TRUE' : 'FALSE'}`);
    if (next() < 0.05) lines.push('jansHideOnDiscovery: TRUE');
    if (next() < 0.2) lines.push(`jansTooltip: ${capitalise(what)}`);
    if (dataType === 'string' && next() < 0.15) {
      const max = pick([16, 32, 64, 128, 256]);
      lines.push(`jansValidation: {"minLength":1,"maxLength":${max},"regexp":""}`);
    }
    if (next() < 0.3) lines.push('jansAttrUsgTyp: openid');
    chunks.push(lines.join('\n'));
  }
  return { ldif: chunks.join('\n\n') + '\n', inums };
}
