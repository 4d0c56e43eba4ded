/* Included last in every .c file: functions that have caused too many bugs
   elsewhere to be worth the risk here (git's banned.h, same idea).  */
#ifndef RUNHV_BANNED_H
#define RUNHV_BANNED_H

#define BANNED(func) sorry_##func##_is_a_banned_function

#undef strcpy
#define strcpy(x, y) BANNED (strcpy)
#undef strcat
#define strcat(x, y) BANNED (strcat)
#undef strncpy
#define strncpy(x, y, n) BANNED (strncpy)
#undef strncat
#define strncat(x, y, n) BANNED (strncat)
#undef sprintf
#define sprintf(...) BANNED (sprintf)
#undef vsprintf
#define vsprintf(...) BANNED (vsprintf)
#undef strtok
#define strtok(x, y) BANNED (strtok)
#undef strtok_r
#define strtok_r(x, y, z) BANNED (strtok_r)
#undef system
#define system(x) BANNED (system)
#undef gets
#define gets(x) BANNED (gets)
#undef atoi
#define atoi(x) BANNED (atoi)

#endif
