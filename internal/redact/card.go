package redact

import "strings"

// Card numbers are 13 to 19 digits (ISO/IEC 7812); the first digit of every card network a
// bank accepts is 2 to 6. The restriction keeps Unix-nanosecond timestamps (19 digits
// starting with 1) out of the mask.
const (
	minPANDigits = 13
	maxPANDigits = 19
)

// Luhn reports whether digits (ASCII '0'–'9' only) pass the Luhn check.
func Luhn(digits string) bool {
	if digits == "" {
		return false
	}
	sum := 0
	double := false
	for i := len(digits) - 1; i >= 0; i-- {
		c := digits[i]
		if c < '0' || c > '9' {
			return false
		}
		d := int(c - '0')
		if double {
			d *= 2
			if d > 9 {
				d -= 9
			}
		}
		sum += d
		double = !double
	}
	return sum%10 == 0
}

// IsCardNumber reports whether digits is a plausible card number: 13–19 digits, starting
// with 2–6, passing Luhn.
func IsCardNumber(digits string) bool {
	return len(digits) >= minPANDigits && len(digits) <= maxPANDigits &&
		digits[0] >= '2' && digits[0] <= '6' && Luhn(digits)
}

// maskCards replaces every card number in s, written as a run of digits with at most one
// space or dash between two digits and not glued to a letter, by "[card ****LAST4]". Runs
// glued to letters are parts of identifiers: hex request ids hold long digit runs often
// enough that masking them would break log correlation.
func maskCards(s string) string {
	var b strings.Builder
	last := 0 // s[last:] is not yet copied to b
	for i := 0; i < len(s); {
		if !isDigit(s[i]) || (i > 0 && isWordByte(s[i-1])) {
			i++
			continue
		}
		end, ds := scanRun(s, i)
		if end < len(s) && isWordByte(s[end]) {
			i = end
			continue
		}
		if IsCardNumber(ds) {
			if b.Len() == 0 {
				b.Grow(len(s))
			}
			b.WriteString(s[last:i])
			b.WriteString("[card ****")
			b.WriteString(ds[len(ds)-4:])
			b.WriteString("]")
			last = end
		}
		i = end
	}
	if last == 0 {
		return s
	}
	b.WriteString(s[last:])
	return b.String()
}

// scanRun reads a run of digits from s[i:] in which a single ' ' or '-' may separate two
// digits, and returns where it ends and its digits (up to one more than maxPANDigits, which
// is enough to tell that the run is too long).
func scanRun(s string, i int) (end int, ds string) {
	var buf [maxPANDigits + 1]byte
	n := 0
	j := i
	for j < len(s) {
		c := s[j]
		switch {
		case isDigit(c):
			if n < len(buf) {
				buf[n] = c
			}
			n++
			j++
		case (c == ' ' || c == '-') && j+1 < len(s) && isDigit(s[j+1]) && j > i:
			j++
		default:
			return j, string(buf[:min(n, len(buf))])
		}
	}
	return j, string(buf[:min(n, len(buf))])
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

// isWordByte is a letter or digit glued to a run, which makes the run part of an identifier
// ("pay_ABC123…", "v4111…") rather than a number standing alone. '_' is not one: "card_4111…"
// still holds a card number.
func isWordByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || isDigit(c)
}
