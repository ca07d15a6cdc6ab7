// The forms a mobilizer fills in, as data: their fields and the sync item
// each one becomes. The rules (what is valid, who may, which transition is
// allowed) are the server's alone; the phone only checks that required
// fields are filled, so a mistake is caught before a day's walk back to
// signal, and keeps everything else for the server to judge.

const CATEGORIES = ['surveillance', 'isolation', 'safe_burial', 'hygiene', 'referral', 'by_law', 'stigma', 'other'];
const NEEDS = ['basic', 'security', 'autonomy', 'respect', 'social_support', 'capacity'];
const FEEDBACK_TYPES = ['question', 'concern', 'complaint', 'rumour', 'suggestion', 'appreciation', 'refusal'];
const OUTCOMES = ['admitted', 'safe_burial', 'unsafe_burial', 'not_found', 'refused', 'other'];

// Field kinds: text, number, date (YYYY-MM-DD), datetime (local, sent as
// RFC 3339), select (options), yesno, and pickers filled from the phone's
// cache: community, action_point, referral, feedback, district, chiefdom.
export const forms = [
  {
    id: 'register', title: 'form_register', record: 'community', creates: true,
    fields: [
      { name: 'name', kind: 'text', required: true },
      { name: 'district', kind: 'district', required: true },
      { name: 'chiefdom', kind: 'chiefdom', required: true },
      { name: 'section', kind: 'text' },
      { name: 'population', kind: 'number', min: 0 },
      { name: 'id', kind: 'text', label: 'f_id' },
    ],
    path: () => '/v1/communities',
  },
  {
    id: 'trigger', title: 'form_trigger', record: 'community', target: 'community',
    fields: [{ name: 'community', kind: 'community', required: true }, { name: 'attendance', kind: 'number', min: 0, required: true }],
    path: (v) => `/v1/communities/${enc(v.community)}/triggering`,
  },
  {
    id: 'visit', title: 'form_visit', record: 'community', target: 'community',
    fields: [
      { name: 'community', kind: 'community', required: true },
      { name: 'kind', kind: 'select', options: ['initial', 'follow_up'], required: true },
      { name: 'trust_rating', kind: 'select', options: ['1', '2', '3', '4', '5'], required: true, raw: true },
      { name: 'concern_need', kind: 'select', options: NEEDS },
      { name: 'concern_text', kind: 'text' },
    ],
    path: (v) => `/v1/communities/${enc(v.community)}/visits`,
  },
  {
    id: 'raise_ap', title: 'form_raise_ap', record: 'action_point', creates: true,
    fields: [
      { name: 'community', kind: 'community', required: true },
      { name: 'title', kind: 'text', required: true },
      { name: 'category', kind: 'select', options: CATEGORIES, required: true },
      { name: 'kind', kind: 'select', options: ['one_off', 'continuous'], required: true },
      { name: 'due_date', kind: 'date' },
    ],
    path: () => '/v1/action-points',
  },
  apTransition('start', 'form_start', 'note', false),
  apTransition('progress', 'form_progress', 'note', true),
  apTransition('achieve', 'form_achieve', 'evidence', false),
  apTransition('drop', 'form_drop', 'reason', true),
  apTransition('reopen', 'form_reopen', 'reason', true),
  {
    id: 'referral', title: 'form_referral', record: 'referral', creates: true,
    fields: [
      { name: 'community', kind: 'community', required: true },
      { name: 'kind', kind: 'select', options: ['suspected_case', 'death_alert', 'other'], required: true },
      { name: 'channel', kind: 'select', options: ['mobilizer', 'hotline_117', 'other'], required: true },
      { name: 'person_ref', kind: 'text' },
      { name: 'symptom_onset', kind: 'datetime' },
    ],
    path: () => '/v1/referrals',
  },
  {
    id: 'complete_referral', title: 'form_complete_referral', record: 'referral', target: 'referral', ifMatch: true,
    fields: [
      { name: 'referral', kind: 'referral', required: true },
      { name: 'arrived_at', kind: 'datetime', required: true },
      { name: 'outcome', kind: 'select', options: OUTCOMES, required: true },
    ],
    path: (v) => `/v1/referrals/${enc(v.referral)}/complete`,
  },
  {
    id: 'feedback', title: 'form_feedback', record: 'feedback', creates: true,
    fields: [
      { name: 'community', kind: 'community', required: true },
      { name: 'type', kind: 'select', options: FEEDBACK_TYPES, required: true },
      { name: 'text', kind: 'text', required: true },
      { name: 'need_category', kind: 'select', options: NEEDS },
      { name: 'channel', kind: 'select', options: ['mobilizer', 'hotline_117', 'other'], required: true },
    ],
    path: () => '/v1/feedback',
  },
  {
    id: 'close_loop', title: 'form_close_loop', record: 'feedback', target: 'feedback', ifMatch: true,
    fields: [
      { name: 'feedback', kind: 'feedback', required: true },
      { name: 'communicated_at', kind: 'datetime', required: true },
      { name: 'satisfied', kind: 'yesno', required: true },
    ],
    path: (v) => `/v1/feedback/${enc(v.feedback)}/close-loop`,
  },
];

function apTransition(action, title, text, required) {
  return {
    id: action, title, record: 'action_point', target: 'action_point', ifMatch: true,
    fields: [{ name: 'action_point', kind: 'action_point', required: true }, { name: text, kind: 'text', required }],
    path: (v) => `/v1/action-points/${enc(v.action_point)}/${action}`,
  };
}

function enc(s) {
  return encodeURIComponent(String(s));
}

export function formById(id) {
  return forms.find((f) => f.id === id);
}

// missing answers the names of required fields left empty.
export function missing(form, values) {
  return form.fields.filter((f) => f.required && (values[f.name] === undefined || String(values[f.name]).trim() === '')).map((f) => f.name);
}

function rfc3339(local) {
  // <input type=datetime-local> gives local wall time without a zone; the
  // phone's zone is the field's.
  const d = new Date(local);
  return Number.isNaN(d.getTime()) ? local : d.toISOString();
}

// body answers the JSON body of the route for the form's values.
export function body(form, values, { now, id }) {
  const b = { occurred_at: now.toISOString() };
  const skip = new Set(['community', 'action_point', 'referral', 'feedback', 'concern_need', 'concern_text', 'id']);
  for (const f of form.fields) {
    const v = values[f.name];
    if (skip.has(f.name) || v === undefined || v === '') continue;
    if (f.kind === 'number' || f.raw) b[f.name] = Number(v);
    else if (f.kind === 'datetime') b[f.name] = rfc3339(v);
    else if (f.kind === 'yesno') b[f.name] = v === true || v === 'yes';
    else b[f.name] = typeof v === 'string' ? v.trim() : v;
  }
  if (form.creates) {
    b.id = id;
    if (form.record !== 'community') b.community_id = values.community;
  }
  if (form.id === 'visit' && values.concern_need) {
    b.concerns = [{ need: values.concern_need, text: (values.concern_text || '').trim() }];
  }
  return b;
}

// entry turns a saved form into an outbox entry: a new idempotency key, the
// field time, the record it touches and, where the phone read that record
// from the server, the revision it saw as if_match — so a change made on the
// server meanwhile comes back as a conflict instead of being overwritten.
// Visits and triggering sessions add to a community's history and change
// nothing another person wrote, so they carry no if_match.
export function entry(form, values, { now, newId, revisionOf, who = '' }) {
  let id = values[form.target] || values.id;
  if (form.creates) id = (values.id && String(values.id).trim()) || newId(form.record === 'community' ? 'c' : '');
  const b = body(form, values, { now, id });
  const e = {
    key: newId('k'),
    method: 'POST',
    path: form.creates ? form.path(values) : form.path({ ...values, [form.target]: id }),
    body: b,
    form: form.id,
    record: { kind: form.record, id, community: form.record === 'community' ? id : values.community || undefined },
    created_at: now.toISOString(),
    who,
  };
  if (form.ifMatch && revisionOf) {
    const rev = revisionOf(form.record, id);
    if (rev !== undefined && rev !== null) e.if_match = `"${rev}"`;
  }
  return e;
}
