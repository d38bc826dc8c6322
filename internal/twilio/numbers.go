package twilio

import (
	"context"
	"fmt"

	openapi "github.com/twilio/twilio-go/rest/api/v2010"
)

// opConfigureNumber names the IncomingPhoneNumber requests in errors and metrics.
const opConfigureNumber = "configure number"

// ConfigureVoiceURL makes number, one of account's phone numbers, send its incoming calls to
// voiceURL by POST: the IncomingPhoneNumber resource's VoiceUrl and VoiceMethod
// (https://www.twilio.com/docs/phone-numbers/api/incomingphonenumber-resource). Strike owns
// this configuration (DESIGN §1): no NOC sets a webhook. It reads the number first and writes
// only when something differs, so running it again changes nothing; changed says whether it
// wrote. A number the account does not have is an *Error of kind ErrNotFound.
func (c *Client) ConfigureVoiceURL(ctx context.Context, account, number, voiceURL string) (changed bool, err error) {
	if !IsSID("AC", account) {
		return false, &Error{Kind: ErrRejected, Op: opConfigureNumber, AccountSID: account, Err: fmt.Errorf("invalid account SID")}
	}
	nums, err := do(ctx, c, opConfigureNumber, account, false, func(api *openapi.ApiService) ([]openapi.ApiV2010IncomingPhoneNumber, error) {
		p := &openapi.ListIncomingPhoneNumberParams{}
		p.SetPathAccountSid(account)
		p.SetPhoneNumber(number)
		return api.ListIncomingPhoneNumber(p)
	})
	if err != nil {
		return false, err
	}
	var sid string
	for _, n := range nums {
		if deref(n.PhoneNumber) != number || n.Sid == nil {
			continue
		}
		if deref(n.VoiceUrl) == voiceURL && deref(n.VoiceMethod) == "POST" {
			return false, nil
		}
		sid = *n.Sid
	}
	if sid == "" {
		return false, &Error{Kind: ErrNotFound, Op: opConfigureNumber, AccountSID: account,
			Err: fmt.Errorf("%s is not a phone number of account %s", number, account)}
	}
	_, err = do(ctx, c, opConfigureNumber, account, false, func(api *openapi.ApiService) (*openapi.ApiV2010IncomingPhoneNumber, error) {
		p := &openapi.UpdateIncomingPhoneNumberParams{}
		p.SetPathAccountSid(account)
		p.SetVoiceUrl(voiceURL)
		p.SetVoiceMethod("POST")
		return api.UpdateIncomingPhoneNumber(sid, p)
	})
	return err == nil, err
}
