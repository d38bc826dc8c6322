// Package secrets seals credentials at rest (today: each OSP's Render client secret) with
// AES-256-GCM under a key id, so the keys can rotate without a flag day.
//
// Keys come from STRIKE_SECRET_KEYS, "kid1:base64key1,kid2:base64key2": each key is 32 random
// bytes in base64 (GenerateKey makes one). Every listed key can decrypt; the LAST listed key is
// the newest and is the only one that encrypts. To rotate: append a new key, restart, run
// `strike admin render rotate-keys` (which calls Keyring.Rotate on every stored secret), then,
// once nothing is sealed under the old key (NeedsRotation is false everywhere), drop it.
//
// A sealed value is bound to where it is stored through the additional authenticated data
// (RenderSecretAAD: OSP tenant id, instance, base URL and client id), so a ciphertext copied into
// another tenant's row, or a row pointed at another URL, fails to decrypt instead of handing the
// credentials to someone else.
//
// Plaintext secrets travel as Secret, whose every printed, logged or JSON form is "[redacted]".
package secrets
