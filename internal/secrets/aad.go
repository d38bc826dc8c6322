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
// OSP tenant and the Render instance it belongs to, so a secret copied to another row (another
// tenant, or another instance of the same tenant) fails to decrypt. The admin CLI, the poller
// and the dispatch must all use this function so they agree.
func RenderSecretAAD(ospTenantID, instanceID string) []byte {
	return AAD("strike/render-client-secret/v1", ospTenantID, instanceID)
}
