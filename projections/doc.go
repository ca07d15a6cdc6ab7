// Package projections builds actionledger's read models — the indicators of
// PRODUCT.md — from the event log, and serves them.
//
// Each model folds events in log order (Apply) and never refuses one: the
// domain already accepted it, and a read model only records. The Engine feeds
// every model through a Watermill router subscribed to the store's global log
// (catch-up from the model's checkpoint, then live), with correlation-id,
// retry, poison-queue and recoverer middleware; it persists each model's state
// together with its checkpoint in one write, so a restart resumes where the
// state left off and counts nothing twice, and a redelivered event (position
// at or below the checkpoint) changes nothing.
//
// Definitions (all times are field time, occurred_at, unless said otherwise;
// weeks are ISO weeks in UTC; a rate whose denominator is zero is null).
//
// The period asked for (Filter.From, Filter.To) is respected exactly:
//   - nothing that happened at or after To counts in any answer — no record
//     created then, and no change to an older record (an action point
//     achieved after To is in progress in an answer ending at To; a loop
//     closed after To is open); overdue is as of the last day before To;
//   - totals count the records created in [From, To); a series shows the
//     weeks from the week of From to the week of the instant before To;
//   - without From and To, a series spans the selected place's own data
//     (first to last week, at most the current one), never the country's:
//     a back-dated record elsewhere does not stretch it; a place without
//     data has an empty series;
//   - a week that holds now, or that From or To cuts, is marked partial.
//
// Indicators:
//
// Action points, per place, category and kind:
//   - counts by status (open, in_progress, achieved, dropped);
//   - achieved_rate = achieved / (all − dropped);
//   - implementation_rate = (in_progress + achieved) / (all − dropped);
//   - overdue = due date before today (UTC) and not achieved or dropped;
//   - the weekly series gives the same as they stood at the end of each week.
//
// Referrals:
//   - suspected_within_24h_rate: of suspected-case referrals, the share raised
//     (occurred_at of the raise) within 24 hours of symptom_onset;
//   - hours_to_complete median and p90: arrived_at of the completion minus
//     occurred_at of the raise, over completed referrals (percentiles
//     interpolate linearly between closest ranks, as numpy and R type 7 do);
//   - safe_burial_rate: of death alerts with an outcome, the share whose
//     outcome is safe_burial.
//
// Feedback:
//   - loop_closure_rate = loop_closed / received;
//   - days_to_close median: communicated_at of the loop closure minus
//     occurred_at of the receipt, in days, over closed loops;
//   - by_type and by_need count received items by type and unmet-need
//     category.
//
// Trust, per place and ISO week W, each component in [0,1] and null without
// data:
//   - T1: mean over the week's visits of (trust_rating − 1) / 4;
//   - T2: of feedback items received in weeks W−3..W, the share whose loop was
//     closed within 14 days of receipt;
//   - T3: of suspected-case referrals raised in weeks W−3..W, the share raised
//     within 24 hours of symptom onset;
//   - T4: one minus the share of complaints, rumours and refusals among the
//     feedback received in week W;
//   - index: the weighted mean of the components that have data (weights 0.4,
//     0.2, 0.2, 0.2 by default — a starting point, configurable);
//   - falling: the index is at least 0.10 below its value four weeks
//     earlier, and both weeks rest on at least MinVisits visits (default 5,
//     DefaultTrustMinVisits — a starting point, configurable with
//     --trust-min-visits): one visit rated 3 after one rated 4 is a drop of
//     0.25 on T1 and says nothing about a district;
//   - components name T1..T4 in each row (visit_trust,
//     feedback_loops_closed_14d, suspected_referrals_within_24h,
//     feedback_not_negative) with their weights and the counts behind them;
//   - with From, nothing before it counts in the first week's own figures
//     (T1, T4, visits), but T2, T3 and falling look back past it on
//     purpose: a week reads the same wherever the chart starts.
//
// As of (Engine.AsOf): every indicator as a fresh model fed only the events
// recorded by a time, or only those that occurred by it, would answer. The
// live models answer it themselves: each record keeps the log position and
// occurred_at of every event folded into it, and a cut (cut.go) says which
// of them such a model would have seen.
package projections
