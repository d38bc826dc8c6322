package secrets

import "encoding/binary"

// AAD builds additional authenticated data from parts in an unambiguous, length-prefixed
// encoding, so ("ab","c") and ("a","bc") bind differently. Decrypting needs exactly the parts
// used to encrypt.
func AAD(parts ...string) []byte {
	n := 0
	for _, p := range parts {
		n += 4 + len(p)
	}
	b := make([]byte, 0, n)
	for _, p := range parts {
		b = binary.BigEndian.AppendUint32(b, uint32(len(p)))
		b = append(b, p...)
	}
	return b
}

// RenderSecretAAD is the AAD of an OSP's Render client secret: it binds the ciphertext to the
// OSP tenant, the Render instance, and where the secret is sent (the instance's base URL and
// client id, exactly as stored). A secret copied to another row (another tenant, another instance
// of the same tenant) fails to decrypt, and so does one whose row was pointed at another URL or
// client id without sealing the secret again. The admin CLI, the poller and the dispatch must
// all use this function so they agree.
func RenderSecretAAD(ospTenantID, instanceID, baseURL, clientID string) []byte {
	return AAD("strike/render-client-secret/v2", ospTenantID, instanceID, baseURL, clientID)
}

// RenderSecretAADv1 is the binding of secrets sealed before v2 (OSP tenant and instance only).
// Only `strike admin render rotate-keys` opens with it, to seal such secrets again under
// RenderSecretAAD; the poller and the dispatch refuse them.
func RenderSecretAADv1(ospTenantID, instanceID string) []byte {
	return AAD("strike/render-client-secret/v1", ospTenantID, instanceID)
}
