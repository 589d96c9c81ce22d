"""The frameworks' own error messages that their Vietnamese catalogues lack, marked here so that ours carries them.

Django REST framework ships a very incomplete Vietnamese translation (20 of its
messages), django-filter none, and Django 5.2's misses a few messages newer than
it (an IP address, a UUID, a JSON value); users would read English errors.
Listing the msgids (exactly as the libraries write them) makes `make messages`
keep them in khien/locale, which takes precedence over the libraries'.
Nothing imports this module: it exists only for the message extractor.
`khien/core/tests/test_translations.py` walks the installed libraries' messages
and fails on any that still reads in English, e.g. after an upgrade.
"""
from django.utils.translation import gettext_noop

DJANGO_MESSAGES = [
    gettext_noop('Enter a valid duration.'),
    gettext_noop('The number of days must be between {min_days} and {max_days}.'),
    gettext_noop('Enter a valid JSON.'),
    gettext_noop('Enter a complete value.'),
    gettext_noop('Enter a valid UUID.'),
    gettext_noop('The inline value did not match the parent instance.'),
    gettext_noop('“%(pk)s” is not a valid value.'),
    gettext_noop('Enter a valid %(protocol)s address.'),
    gettext_noop('IPv4 or IPv6'),
    gettext_noop('Enter a valid domain name.'),
    gettext_noop('File extension “%(extension)s” is not allowed. Allowed extensions are: %(allowed_extensions)s.'),
    gettext_noop('Null characters are not allowed.'),
    gettext_noop('Ensure this value is a multiple of step size %(limit_value)s.'),
    gettext_noop('Enter a valid “slug” consisting of letters, numbers, underscores or hyphens.'),
    gettext_noop('Enter a valid “slug” consisting of Unicode letters, numbers, underscores, or hyphens.'),
]

# Django's Vietnamese has these, but they read badly ("Nhập một số tổng thể" for a whole number, "Đảm bảo giá trị
# này là nhỏ hơn…"); ours, listed here, take precedence.
DJANGO_REWORDED = [
    gettext_noop('“%(value)s” is not a valid UUID.'),
    gettext_noop('Enter a whole number.'),
    gettext_noop('Ensure this value is less than or equal to %(limit_value)s.'),
    gettext_noop('Ensure this value is greater than or equal to %(limit_value)s.'),
    gettext_noop('Enter a valid email address.'),
    gettext_noop('Enter a valid date.'),
    gettext_noop('Enter a valid date/time.'),
]

DJANGO_FILTER_MESSAGES = [
    gettext_noop('Range query expects two values.'),
    gettext_noop('Select a lookup.'),
]

DRF_MESSAGES = [
    gettext_noop('A server error occurred.'),
    gettext_noop('Could not satisfy the request Accept header.'),
    gettext_noop('Invalid input.'),
    gettext_noop('Ensure this field has at least {min_length} characters.'),
    gettext_noop('Expected a date but got a datetime.'),
    gettext_noop('Expected a datetime but got a date.'),
    gettext_noop('Datetime has wrong format. Use one of these formats instead: {format}.'),
    gettext_noop('Invalid datetime for the timezone "{timezone}".'),
    gettext_noop('Datetime value out of range.'),
    gettext_noop('Ensure that there are no more than {max_decimal_places} decimal places.'),
    gettext_noop('Ensure that there are no more than {max_digits} digits in total.'),
    gettext_noop('Ensure that there are no more than {max_whole_digits} digits before the decimal point.'),
    gettext_noop('This dictionary may not be empty.'),
    gettext_noop('Duration has wrong format. Use one of these formats instead: {format}.'),
    gettext_noop('The submitted data was not a file. Check the encoding type on the form.'),
    gettext_noop('Ensure this filename has at most {max_length} characters (it has {length}).'),
    gettext_noop('No filename could be determined.'),
    gettext_noop('"{input}" is not a valid path choice.'),
    gettext_noop('Integer value too large to convert to float'),
    gettext_noop('String value too large.'),
    gettext_noop('Ensure this field has at least {min_length} elements.'),
    gettext_noop('This selection may not be empty.'),
    gettext_noop('This value does not match the required pattern.'),
    gettext_noop('Enter a valid "slug" consisting of letters, numbers, underscores or hyphens.'),
    gettext_noop('Enter a valid "slug" consisting of Unicode letters, numbers, underscores, or hyphens.'),
    gettext_noop('Time has wrong format. Use one of these formats instead: {format}.'),
    gettext_noop('Must be a valid UUID.'),
    gettext_noop('Invalid hyperlink - Object does not exist.'),
    gettext_noop('Invalid hyperlink - Incorrect URL match.'),
    gettext_noop('Incorrect type. Expected URL string, received {data_type}.'),
    gettext_noop('Invalid hyperlink - No URL match.'),
    gettext_noop('Incorrect type. Expected pk value, received {data_type}.'),
    gettext_noop('Invalid value.'),
    gettext_noop('Surrogate characters are not allowed: U+{code_point:X}.'),
    gettext_noop('This field must be unique for the "{date_field}" date.'),
    gettext_noop('This field must be unique for the "{date_field}" month.'),
    gettext_noop('This field must be unique for the "{date_field}" year.'),
    gettext_noop('The fields {field_names} must make a unique set.'),
    gettext_noop('This field must be unique.'),
    gettext_noop('Expected available in {wait} second.'),
    gettext_noop('Expected available in {wait} seconds.'),

    gettext_noop('"{input}" is not a valid choice.'),
    gettext_noop("A valid integer is required."),
    gettext_noop("A valid number is required."),
    gettext_noop("Authentication credentials were not provided."),
    gettext_noop("Ensure this field has no more than {max_length} characters."),
    gettext_noop("Ensure this field has no more than {max_length} elements."),
    gettext_noop("Ensure this value is greater than or equal to {min_value}."),
    gettext_noop("Ensure this value is less than or equal to {max_value}."),
    gettext_noop("Enter a valid email address."),
    gettext_noop('Expected a dictionary of items but got type "{input_type}".'),
    gettext_noop('Expected a list of items but got type "{input_type}".'),
    gettext_noop("Incorrect authentication credentials."),
    gettext_noop("Invalid data. Expected a dictionary, but got {datatype}."),
    gettext_noop('Invalid pk "{pk_value}" - object does not exist.'),
    gettext_noop("Malformed request."),
    gettext_noop('Method "{method}" not allowed.'),
    gettext_noop("Must be a valid boolean."),
    gettext_noop("Not a valid string."),
    gettext_noop("Not found."),
    gettext_noop("Object with {slug_name}={value} does not exist."),
    gettext_noop("Request was throttled."),
    gettext_noop("This field is required."),
    gettext_noop("This field may not be blank."),
    gettext_noop("This field may not be null."),
    gettext_noop('Unsupported media type "{media_type}" in request.'),
    gettext_noop("You do not have permission to perform this action."),
]
