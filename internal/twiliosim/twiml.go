package twiliosim

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// maxTwiML is Twilio's limit on a TwiML document (64 KB).
const maxTwiML = 64 << 10

// Gather bounds, as Twilio applies them.
const (
	defaultGatherTimeout = 5 * time.Second
	maxGatherTimeout     = 600 * time.Second
)

// gatherSpec is the part of a <Gather> the simulator acts on.
type gatherSpec struct {
	// Action is the absolute URL the digits are sent to, "" if none can be
	// resolved (a relative action in inline TwiML).
	Action string
	// Method is POST or GET.
	Method string
	// Timeout is how long Twilio waits for a key after the prompt.
	Timeout time.Duration
	// NumDigits is how many keys end the Gather; 0 = until timeout or #.
	NumDigits int
}

// redirectSpec is a <Redirect>: the absolute URL of the next TwiML ("" if
// it cannot be resolved) and the method, POST by default
// (https://www.twilio.com/docs/voice/twiml/redirect).
type redirectSpec struct {
	URL, Method string
}

// twimlDoc is what the simulator reads of a TwiML document: its first
// top-level Gather, if any, else its first top-level Redirect and how long
// the verbs before it take (each <Pause> its length, 1 s by default,
// https://www.twilio.com/docs/voice/twiml/pause; each <Say> SayDuration).
// Other verbs only take time.
type twimlDoc struct {
	Gather   *gatherSpec
	Redirect *redirectSpec
	// PausesBefore and SaysBefore are the <Pause> time and the number of
	// <Say> verbs before the Redirect.
	PausesBefore time.Duration
	SaysBefore   int
	// SaysAfterGather counts the <Say> verbs between a Gather and a Redirect
	// after it, played when the Gather times out.
	SaysAfterGather int
}

// defaultPause is the length of a <Pause> without one.
const defaultPause = time.Second

// parseTwiML reads a TwiML document from outside (the application's TwiML
// URL or gather action, or inline Twiml). docURL is the URL it came from,
// against which a relative action resolves, "" for inline TwiML. Like
// Twilio, an action left out means "post back to the document's URL".
func parseTwiML(doc []byte, docURL string) (twimlDoc, error) {
	if len(doc) > maxTwiML {
		return twimlDoc{}, fmt.Errorf("TwiML is longer than %d bytes", maxTwiML)
	}
	d := xml.NewDecoder(bytes.NewReader(doc))
	root, err := firstStart(d)
	if err != nil {
		return twimlDoc{}, err
	}
	if root.Name.Local != "Response" {
		return twimlDoc{}, fmt.Errorf("TwiML root is <%s>, want <Response>", root.Name.Local)
	}
	var out twimlDoc
	for {
		tok, err := d.Token()
		if err != nil {
			return twimlDoc{}, fmt.Errorf("TwiML: %w", err)
		}
		switch t := tok.(type) {
		case xml.StartElement:
			switch {
			case t.Name.Local == "Gather" && out.Gather == nil:
				g, err := gatherOf(t, docURL)
				if err != nil {
					return twimlDoc{}, err
				}
				out.Gather = &g
			case t.Name.Local == "Redirect" && out.Redirect == nil:
				r, err := redirectOf(d, t, docURL)
				if err != nil {
					return twimlDoc{}, err
				}
				out.Redirect = &r
				continue // redirectOf consumed the element
			case out.Redirect == nil && t.Name.Local == "Pause":
				out.PausesBefore += pauseOf(t)
			case out.Redirect == nil && t.Name.Local == "Say":
				out.SaysBefore++
				if out.Gather != nil {
					out.SaysAfterGather++
				}
			}
			if err := d.Skip(); err != nil {
				return twimlDoc{}, fmt.Errorf("TwiML: %w", err)
			}
		case xml.EndElement:
			// End of <Response>; anything after it must be blank.
			if err := onlyMisc(d); err != nil {
				return twimlDoc{}, err
			}
			return out, nil
		}
	}
}

func firstStart(d *xml.Decoder) (xml.StartElement, error) {
	for {
		tok, err := d.Token()
		if err != nil {
			if errors.Is(err, io.EOF) {
				return xml.StartElement{}, errors.New("TwiML is empty")
			}
			return xml.StartElement{}, fmt.Errorf("TwiML: %w", err)
		}
		switch t := tok.(type) {
		case xml.StartElement:
			return t, nil
		case xml.CharData:
			if len(bytes.TrimSpace(t)) != 0 {
				return xml.StartElement{}, errors.New("TwiML: text before the root element")
			}
		}
	}
}

func onlyMisc(d *xml.Decoder) error {
	for {
		tok, err := d.Token()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("TwiML: %w", err)
		}
		switch t := tok.(type) {
		case xml.StartElement:
			return errors.New("TwiML: more than one root element")
		case xml.CharData:
			if len(bytes.TrimSpace(t)) != 0 {
				return errors.New("TwiML: text after the root element")
			}
		}
	}
}

func gatherOf(t xml.StartElement, docURL string) (gatherSpec, error) {
	g := gatherSpec{Method: "POST", Timeout: defaultGatherTimeout}
	action, hasAction := "", false
	for _, a := range t.Attr {
		v := strings.TrimSpace(a.Value)
		switch a.Name.Local {
		case "action":
			action, hasAction = v, true
		case "method":
			switch m := strings.ToUpper(v); m {
			case "POST", "GET":
				g.Method = m
			default:
				return gatherSpec{}, fmt.Errorf("Gather method %q is not GET or POST", a.Value)
			}
		case "timeout":
			n, err := strconv.Atoi(v)
			if err != nil || n < 1 {
				return gatherSpec{}, fmt.Errorf("Gather timeout %q is not a positive integer", a.Value)
			}
			g.Timeout = min(time.Duration(n)*time.Second, maxGatherTimeout)
		case "numDigits":
			n, err := strconv.Atoi(v)
			if err != nil || n < 1 || n > 100 {
				return gatherSpec{}, fmt.Errorf("Gather numDigits %q is not a positive integer", a.Value)
			}
			g.NumDigits = n
		}
	}
	if !hasAction {
		action = docURL
	}
	resolved, err := resolveAction(action, docURL)
	if err != nil {
		return gatherSpec{}, err
	}
	g.Action = resolved
	return g, nil
}

// resolveAction makes action absolute against docURL. A relative action in
// inline TwiML (docURL "") cannot be resolved and yields "".
func resolveAction(action, docURL string) (string, error) {
	if action == "" {
		return "", nil
	}
	u, err := url.Parse(action)
	if err != nil {
		return "", fmt.Errorf("Gather action %q: %w", action, err)
	}
	if !u.IsAbs() {
		if docURL == "" {
			return "", nil
		}
		base, err := url.Parse(docURL)
		if err != nil {
			return "", fmt.Errorf("document URL %q: %w", docURL, err)
		}
		u = base.ResolveReference(u)
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return "", fmt.Errorf("Gather action %q is not an http(s) URL", action)
	}
	u.Fragment = ""
	return u.String(), nil
}

func pauseOf(t xml.StartElement) time.Duration {
	for _, a := range t.Attr {
		if a.Name.Local == "length" {
			if n, err := strconv.Atoi(strings.TrimSpace(a.Value)); err == nil && n >= 0 {
				return time.Duration(n) * time.Second
			}
		}
	}
	return defaultPause
}

// redirectOf reads a <Redirect method="...">URL</Redirect>, resolving a
// relative URL against the document's.
func redirectOf(d *xml.Decoder, t xml.StartElement, docURL string) (redirectSpec, error) {
	r := redirectSpec{Method: "POST"}
	for _, a := range t.Attr {
		if a.Name.Local == "method" {
			switch m := strings.ToUpper(strings.TrimSpace(a.Value)); m {
			case "POST", "GET":
				r.Method = m
			default:
				return redirectSpec{}, fmt.Errorf("Redirect method %q is not GET or POST", a.Value)
			}
		}
	}
	var body string
	if err := d.DecodeElement(&body, &t); err != nil {
		return redirectSpec{}, fmt.Errorf("TwiML Redirect: %w", err)
	}
	u, err := resolveAction(strings.TrimSpace(body), docURL)
	if err != nil {
		return redirectSpec{}, fmt.Errorf("Redirect: %w", err)
	}
	r.URL = u
	return r, nil
}
