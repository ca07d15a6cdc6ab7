// Every word the app shows, one table per language. English is complete and
// is the fallback; Krio comes next and is filled in by Krio speakers (a key
// missing from it shows the English text, never a blank).

export const en = {
  app_name: 'actionledger',
  sign_in_title: 'Sign in',
  sign_in_help: 'Type the token your coordinator gave you, or open the link from the QR code.',
  token: 'Token',
  sign_in: 'Sign in',
  sign_out: 'Sign out',
  signed_in_as: 'Signed in as',
  offline: 'Offline: reports are kept on this phone and sent when the network is back.',
  online: 'Online',
  unsent: 'Unsent',
  last_sync: 'Last sync',
  never: 'never',
  sync_now: 'Sync now',
  syncing: 'Syncing…',
  export_unsent: 'Export unsent',
  home: 'Home',
  communities: 'Communities',
  action_points: 'Action points',
  outbox: 'Outbox',
  record: 'Record',
  save: 'Save',
  cancel: 'Cancel',
  saved: 'Saved on this phone. It will be sent at the next sync.',
  required: 'is required',
  not_sent: 'not sent yet',
  no_items: 'Nothing here yet.',
  overdue: 'overdue',
  due: 'due',
  // Forms
  form_register: 'Register a community',
  form_trigger: 'Triggering session',
  form_visit: 'Follow-up visit',
  form_raise_ap: 'Raise an action point',
  form_start: 'Start action point',
  form_progress: 'Note progress',
  form_achieve: 'Mark achieved',
  form_drop: 'Drop action point',
  form_reopen: 'Reopen action point',
  form_referral: 'Raise a referral',
  form_complete_referral: 'Referral arrived',
  form_feedback: 'Receive feedback',
  form_close_loop: 'Close the feedback loop',
  // Fields
  f_id: 'Code (optional)',
  f_name: 'Name',
  f_district: 'District',
  f_chiefdom: 'Chiefdom',
  f_section: 'Section',
  f_population: 'Population',
  f_community: 'Community',
  f_attendance: 'Attendance',
  f_kind: 'Kind',
  f_trust_rating: 'Trust rating (1–5)',
  f_concern_need: 'Concern: unmet need',
  f_concern_text: 'Concern: what was said',
  f_title: 'Title',
  f_category: 'Category',
  f_due_date: 'Due date',
  f_action_point: 'Action point',
  f_note: 'Note',
  f_evidence: 'Evidence',
  f_reason: 'Reason',
  f_channel: 'Channel',
  f_person_ref: 'Person reference (a code, never a name)',
  f_symptom_onset: 'Symptom onset',
  f_referral: 'Referral',
  f_arrived_at: 'Arrived at',
  f_outcome: 'Outcome',
  f_type: 'Type',
  f_text: 'What was said',
  f_need_category: 'Unmet need',
  f_feedback: 'Feedback item',
  f_communicated_at: 'Answer given to the community at',
  f_satisfied: 'Was the community satisfied?',
  choose: '— choose —',
  yes: 'Yes',
  no: 'No',
  // Outbox states
  state_pending: 'waiting to be sent',
  state_conflict: 'conflict: someone changed this record',
  state_refused: 'refused by the server',
  state_held: 'set aside after repeated failures',
  server_now: 'On the server now',
  redo: 'Redo on the current version',
  discard: 'Discard',
  retry: 'Try again',
  revoked_title: 'Your access has been withdrawn',
  revoked_help: 'See your coordinator. Your unsent reports stay on this phone: use "Export unsent" to hand them over.',
  wiped: 'This phone\'s data was removed as your coordinator asked.',
  // Vocabularies
  initial: 'initial',
  follow_up: 'follow-up',
  one_off: 'one-off',
  continuous: 'continuous',
  surveillance: 'surveillance', isolation: 'isolation', safe_burial: 'safe burial', hygiene: 'hygiene',
  referral: 'referral', by_law: 'by-law', stigma: 'stigma', other: 'other',
  basic: 'basic needs', security: 'security', autonomy: 'autonomy', respect: 'respect',
  social_support: 'social support', capacity: 'capacity',
  suspected_case: 'suspected case', death_alert: 'death alert',
  mobilizer: 'mobilizer', hotline_117: 'hotline 117',
  admitted: 'admitted', unsafe_burial: 'unsafe burial', not_found: 'not found', refused: 'refused',
  question: 'question', concern: 'concern', complaint: 'complaint', rumour: 'rumour',
  suggestion: 'suggestion', appreciation: 'appreciation', refusal: 'refusal',
  open: 'open', in_progress: 'in progress', achieved: 'achieved', dropped: 'dropped',
  registered: 'registered', triggered: 'triggered', under_follow_up: 'under follow-up',
};

// Krio: to be completed by Krio speakers; missing keys fall back to English.
export const kri = {};

export const tables = { en, kri };

// translator answers t(key) for the first language of langs that has a
// table, falling back to English and then to the key itself.
export function translator(langs = ['en']) {
  const lang = langs.map((l) => String(l).toLowerCase().split('-')[0]).find((l) => tables[l]) || 'en';
  const table = tables[lang];
  const t = (key) => (key in table ? table[key] : key in en ? en[key] : key);
  t.lang = lang;
  return t;
}
