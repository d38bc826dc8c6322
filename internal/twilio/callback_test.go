package twilio

import (
	"net/url"
	"testing"
	"time"
)

const (
	testAccount = "AC0123456789abcdef0123456789abcdef"
	testCall    = "CA0123456789abcdef0123456789abcdef"
)

func TestParseCallback(t *testing.T) {
	base := func() url.Values {
		return url.Values{
			"AccountSid": {testAccount}, "CallSid": {testCall}, "CallStatus": {"completed"},
			"To": {"+15550001111"}, "From": {"+15550002222"}, "Direction": {"outbound-api"},
			"CallbackSource": {"call-progress-events"}, "SequenceNumber": {"3"},
			"Timestamp": {"Mon, 02 Jan 2006 15:04:05 +0000"}, "CallDuration": {"12"}, "SipResponseCode": {"200"},
		}
	}
	t.Run("reads a completed status callback", func(t *testing.T) {
		cb, err := ParseCallback(base())
		if err != nil {
			t.Fatal(err)
		}
		want := Callback{AccountSID: testAccount, CallSID: testCall, CallStatus: "completed",
			To: "+15550001111", From: "+15550002222", Direction: "outbound-api",
			CallbackSource: "call-progress-events", SequenceNumber: 3,
			Timestamp:    time.Date(2006, 1, 2, 15, 4, 5, 0, time.UTC),
			CallDuration: 12 * time.Second, SipResponseCode: 200}
		if !cb.Timestamp.Equal(want.Timestamp) {
			t.Fatalf("Timestamp = %v", cb.Timestamp)
		}
		cb.Timestamp = want.Timestamp
		if cb != want {
			t.Fatalf("got %+v\nwant %+v", cb, want)
		}
		if !cb.Terminal() {
			t.Fatal("completed callback not terminal")
		}
	})
	t.Run("reads a gather result without sequence number", func(t *testing.T) {
		f := url.Values{"AccountSid": {testAccount}, "CallSid": {testCall}, "CallStatus": {"in-progress"}, "Digits": {"1"}}
		cb, err := ParseCallback(f)
		if err != nil {
			t.Fatal(err)
		}
		if cb.Digits != "1" || cb.SequenceNumber != -1 || cb.Terminal() {
			t.Fatalf("got %+v", cb)
		}
	})
	bad := []struct{ name, field, value string }{
		{"rejects a bad call sid", "CallSid", "CA123"},
		{"rejects a bad account sid", "AccountSid", "XX0123456789abcdef0123456789abcdef"},
		{"rejects an unknown status", "CallStatus", "exploded"},
		{"rejects a negative sequence number", "SequenceNumber", "-1"},
		{"rejects a non-numeric duration", "CallDuration", "ten"},
		{"rejects a non-SIP code", "SipResponseCode", "99"},
		{"rejects a bad timestamp", "Timestamp", "yesterday"},
		{"rejects non-key digits", "Digits", "1a"},
	}
	for _, tt := range bad {
		t.Run(tt.name, func(t *testing.T) {
			f := base()
			f.Set(tt.field, tt.value)
			if _, err := ParseCallback(f); err == nil {
				t.Fatalf("%s=%q accepted", tt.field, tt.value)
			}
		})
	}
}

// FuzzParseCallback feeds arbitrary webhook bodies: parsing never panics and
// whatever it accepts satisfies what consumers rely on.
func FuzzParseCallback(f *testing.F) {
	f.Add("AccountSid=" + testAccount + "&CallSid=" + testCall + "&CallStatus=ringing&SequenceNumber=1")
	f.Add("AccountSid=" + testAccount + "&CallSid=" + testCall + "&CallStatus=in-progress&Digits=1")
	f.Add("AccountSid=" + testAccount + "&CallSid=" + testCall + "&CallStatus=failed&SipResponseCode=480&CallDuration=0&Timestamp=Mon%2C+02+Jan+2006+15%3A04%3A05+%2B0000")
	f.Add("CallSid=%ZZ&&&=")
	f.Fuzz(func(t *testing.T, body string) {
		form, err := url.ParseQuery(body)
		if err != nil {
			return
		}
		cb, err := ParseCallback(form)
		if err != nil {
			return
		}
		if !IsSID("AC", cb.AccountSID) || !IsSID("CA", cb.CallSID) {
			t.Fatalf("accepted bad SIDs: %+v", cb)
		}
		if cb.SequenceNumber < -1 || cb.CallDuration < 0 || len(cb.Digits) > maxDigits {
			t.Fatalf("accepted bad numbers: %+v", cb)
		}
		if cb.SipResponseCode != 0 && (cb.SipResponseCode < 100 || cb.SipResponseCode > 699) {
			t.Fatalf("accepted bad SIP code: %+v", cb)
		}
	})
}
