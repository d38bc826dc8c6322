// Package ringdown is the ring-down of one ECO as a pure state machine: every input (a new ECO,
// a Twilio callback, the result of a side effect, a timer) comes with the time it is applied at,
// and every decision comes back as events to publish, commands to run after the transaction
// that records them commits, and the new state. Nothing here talks to Kafka, Twilio or
// PostgreSQL, except the failover link check, which the caller answers through Env.
//
// The promises the dialer keeps live here, where a table test can pin them:
//   - at most as many live calls as people are still needed, each to the next contact in order;
//   - no call once the ECO is filled (a filled ring-down has no live calls and places nothing);
//   - an attempt whose CreateCall may have reached Twilio is never placed again before Twilio
//     was asked (Unsure → Lookup), and a second call for one attempt is hung up;
//   - a 1 on any call of an attempt counts once;
//   - a Twilio account or configuration problem is not a contact's invalid number.
package ringdown
