/** An international (E.164) number as every role writes it: + and 8 to 15 digits, no leading zero. */
export const E164 = /^\+[1-9]\d{7,14}$/;
