package twilio

import (
	"errors"
	"fmt"

	openapi "github.com/twilio/twilio-go/rest/api/v2010"
)

// Account statuses of Twilio's Accounts resource.
const (
	AccountActive    = "active"
	AccountSuspended = "suspended"
	AccountClosed    = "closed"
)

// Account is the adapter's view of Twilio's Accounts resource
// (https://www.twilio.com/docs/iam/api/account). Its text forms (%v, %+v,
// %#v) never show the auth token.
type Account struct {
	SID string
	// OwnerAccountSID is the parent account; a main account owns itself.
	OwnerAccountSID string
	// AuthToken is the account's auth token: it signs the webhooks of the
	// account's calls. Never logged.
	AuthToken    string
	Status       string
	FriendlyName string
	// Type is "Trial" or "Full".
	Type string
}

// String renders the account without its auth token.
func (a Account) String() string {
	return fmt.Sprintf("{SID:%s OwnerAccountSID:%s Status:%s FriendlyName:%q Type:%s AuthToken:<redacted>}",
		a.SID, a.OwnerAccountSID, a.Status, a.FriendlyName, a.Type)
}

// GoString renders the account without its auth token.
func (a Account) GoString() string { return "twilio.Account" + a.String() }

func accountFromAPI(a *openapi.ApiV2010Account) (Account, error) {
	if a == nil || a.Sid == nil {
		return Account{}, errors.New("response has no account sid")
	}
	return Account{
		SID:             *a.Sid,
		OwnerAccountSID: deref(a.OwnerAccountSid),
		AuthToken:       deref(a.AuthToken),
		Status:          deref(a.Status),
		FriendlyName:    deref(a.FriendlyName),
		Type:            deref(a.Type),
	}, nil
}
