package directions

import "fmt"

// Normalize returns number as the ASCII digits that are matched and dialled: '+', spaces,
// '-', '.', '(' and ')' are dropped anywhere. Any other character, no digits at all, or
// more than MaxDigits digits is an error wrapping ErrInvalidNumber; its message names the
// offending character but never the number. A number that is already digits is returned
// as is, without allocating.
func Normalize(number string) (string, error) {
	clean := len(number) > 0 && len(number) <= MaxDigits
	for i := 0; i < len(number) && clean; i++ {
		clean = number[i] >= '0' && number[i] <= '9'
	}
	if clean {
		return number, nil
	}

	var buf [MaxDigits]byte
	n := 0
	for i := 0; i < len(number); i++ {
		switch c := number[i]; {
		case c >= '0' && c <= '9':
			if n == MaxDigits {
				return "", fmt.Errorf("%w: more than %d digits", ErrInvalidNumber, MaxDigits)
			}
			buf[n] = c
			n++
		case c == '+' || c == ' ' || c == '-' || c == '.' || c == '(' || c == ')':
		case c >= 0x80:
			return "", fmt.Errorf("%w: non-ASCII character at byte %d", ErrInvalidNumber, i+1)
		default:
			return "", fmt.Errorf("%w: character %q at byte %d is not a digit", ErrInvalidNumber, c, i+1)
		}
	}
	if n == 0 {
		return "", fmt.Errorf("%w: no digits", ErrInvalidNumber)
	}
	return string(buf[:n]), nil
}
