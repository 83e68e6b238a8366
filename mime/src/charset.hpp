#pragma once
// charset_to_utf8 is public (the full-text index reads text parts with it).
#include "mime/message_parser.hpp"
