package domain

import "strings"

// Stream categories: every aggregate's stream is "<category>-<id>", the
// KurrentDB convention, so a subscription can filter by prefix.
const (
	CommunityCategory   = "community"
	ActionPointCategory = "actionpoint"
	ReferralCategory    = "referral"
	FeedbackCategory    = "feedback"
)

// CommunityStream names a community's stream.
func CommunityStream(id string) string { return CommunityCategory + "-" + id }

// ActionPointStream names an action point's stream.
func ActionPointStream(id string) string { return ActionPointCategory + "-" + id }

// ReferralStream names a referral's stream.
func ReferralStream(id string) string { return ReferralCategory + "-" + id }

// FeedbackStream names a feedback item's stream.
func FeedbackStream(id string) string { return FeedbackCategory + "-" + id }

// SplitStream returns a stream's category and aggregate id; streams without a
// category (UsersStream) return the whole name as category.
func SplitStream(stream string) (category, id string) {
	if i := strings.IndexByte(stream, '-'); i > 0 {
		return stream[:i], stream[i+1:]
	}
	return stream, ""
}
