package fieldcrypt

import (
	"context"
	"fmt"
	"strings"
)

// Item is one field of a batch: its plaintext (to encrypt) or ciphertext (to decrypt),
// and the associated data it is bound to. Each item keeps its own associated data, so a
// batch binds every field to its own column and record exactly as single calls do.
type Item struct {
	Data           []byte `json:"data"`
	AssociatedData []byte `json:"associated_data"`
}

// BatchKeys is Keys that can encrypt or decrypt several fields at once. Over the network
// (Client) that is one round trip through the sidecar to the control plane per record
// instead of one per field, which is most of what reading a record costs. A batch is all
// or nothing: any item that fails fails the call.
type BatchKeys interface {
	Keys
	EncryptBatch(ctx context.Context, purpose string, items []Item) ([][]byte, error)
	DecryptBatch(ctx context.Context, purpose string, items []Item) ([][]byte, error)
}

// MaxBatch bounds the items of one batch call: a record has a handful of sealed fields.
const MaxBatch = 64

// Field is one column of a record and its value, sealed or opened in place.
type Field struct {
	Column string
	Value  *string
}

// SealAll encrypts the values of fields, columns of the row recordID of table, each bound
// to its own column and record. The values change only if every field seals.
func (f Fields) SealAll(ctx context.Context, table, recordID string, fields ...Field) error {
	items := make([]Item, len(fields))
	for i, fd := range fields {
		items[i] = Item{Data: []byte(*fd.Value), AssociatedData: fieldAD(table, fd.Column, recordID)}
	}
	cts, err := f.batch(ctx, false, items)
	if err != nil {
		return fmt.Errorf("seal %s.%s: %w", table, columns(fields), err)
	}
	for i, fd := range fields {
		*fd.Value = sealedPrefix + b64.EncodeToString(cts[i])
	}
	return nil
}

// OpenAll decrypts the values of fields, sealed by Seal or SealAll for the same table,
// columns and record id. The values change only if every field opens.
func (f Fields) OpenAll(ctx context.Context, table, recordID string, fields ...Field) error {
	items := make([]Item, len(fields))
	for i, fd := range fields {
		ct, err := parseSealed(*fd.Value)
		if err != nil {
			return fmt.Errorf("open %s.%s: %w", table, fd.Column, err)
		}
		items[i] = Item{Data: ct, AssociatedData: fieldAD(table, fd.Column, recordID)}
	}
	pts, err := f.batch(ctx, true, items)
	if err != nil {
		return fmt.Errorf("open %s.%s: %w", table, columns(fields), err)
	}
	for i, fd := range fields {
		*fd.Value = string(pts[i])
	}
	return nil
}

// batch runs items through one batch call when Keys can, else one call per item.
func (f Fields) batch(ctx context.Context, decrypt bool, items []Item) ([][]byte, error) {
	if bk, ok := f.Keys.(BatchKeys); ok && len(items) > 1 {
		if decrypt {
			return bk.DecryptBatch(ctx, Purpose, items)
		}
		return bk.EncryptBatch(ctx, Purpose, items)
	}
	return eachItem(ctx, f.Keys, decrypt, Purpose, items)
}

// eachItem is a batch done one item at a time.
func eachItem(ctx context.Context, k Keys, decrypt bool, purpose string, items []Item) ([][]byte, error) {
	out := make([][]byte, len(items))
	for i, it := range items {
		var err error
		if decrypt {
			out[i], err = k.Decrypt(ctx, purpose, it.Data, it.AssociatedData)
		} else {
			out[i], err = k.Encrypt(ctx, purpose, it.Data, it.AssociatedData)
		}
		if err != nil {
			return nil, err
		}
	}
	return out, nil
}

func columns(fields []Field) string {
	if len(fields) == 1 {
		return fields[0].Column
	}
	names := make([]string, len(fields))
	for i, fd := range fields {
		names[i] = fd.Column
	}
	return "{" + strings.Join(names, ",") + "}"
}

var _ BatchKeys = Local{}

// EncryptBatch encrypts each item with the service's data key for purpose.
func (l Local) EncryptBatch(ctx context.Context, purpose string, items []Item) ([][]byte, error) {
	return eachItem(ctx, l, false, purpose, items)
}

// DecryptBatch decrypts each item with the service's data key for purpose.
func (l Local) DecryptBatch(ctx context.Context, purpose string, items []Item) ([][]byte, error) {
	return eachItem(ctx, l, true, purpose, items)
}
